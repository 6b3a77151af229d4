"""Cross-province transfer approvals (跨省转移商请, 转移办法 第二十一条–第二十八条).

An ``Application`` of a consignor (one of its sites) runs through explicit ``Step`` rows, each with
its working-day timer, its actor and its outcome; the decision creates an ``Approval`` whose lines
are consumed by cross-province manifests (``Consumption``). ``WhitelistEntry`` marks enterprises on
the simplified procedure (Seed 十三). ``IncomingRequest`` is the other direction: another province
asks Jilin (as the receiving province) to agree. ``ApprovalFinding`` records overdue steps for
supervision (one per step or incoming request, raised by ``approvals_sweep``).
"""

from __future__ import annotations

import uuid

from django.db import models

from weifei.registry.models import Enterprise, Site


class Application(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        SUBMITTED = "submitted", "已提交（待受理）"
        RETURNED = "returned", "退回补正"
        REVIEWING = "reviewing", "已受理（初步审核）"
        REQUESTED = "requested", "已商请接受地"
        REPLIED = "replied", "接受地已复函"
        APPROVED = "approved", "已批准"
        REFUSED = "refused", "不予批准"
        WITHDRAWN = "withdrawn", "已撤回"

    class Procedure(models.TextChoices):
        STANDARD = "standard", "一般程序"
        SIMPLIFIED = "simplified", "简化程序（白名单）"

    exchange_id = models.UUIDField("商请标识", default=uuid.uuid4, unique=True, editable=False)
    consignor = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="transfer_applications")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="transfer_applications")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    procedure = models.CharField(max_length=16, choices=Procedure.choices, default=Procedure.STANDARD)
    receiver_province = models.CharField("接受地省份代码", max_length=6)
    receiver_name = models.CharField("接受人", max_length=200)
    receiver_credit_code = models.CharField("接受人统一社会信用代码", max_length=18)
    receiver_licence_number = models.CharField("接受人经营许可证编号", max_length=60)
    receiver_licence_valid_to = models.DateField("经营许可证有效期至")
    method_code = models.CharField("利用/处置方式", max_length=8)
    period_from = models.DateField("拟转移期限自")
    period_to = models.DateField("拟转移期限至")
    note = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by_label = models.CharField(max_length=150, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome_comment = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "id"])]

    def __str__(self) -> str:
        return f"跨省转移申请 {self.id}"


class ApplicationLine(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="lines")
    waste_code = models.CharField(max_length=10)
    category = models.CharField(max_length=4)
    waste_name = models.CharField(max_length=200)
    tonnes = models.DecimalField(max_digits=14, decimal_places=6)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["application", "waste_code"], name="approvals_line_code_once"),
            models.CheckConstraint(condition=models.Q(tonnes__gt=0), name="approvals_line_tonnes_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.waste_code} {self.tonnes} t"


class Attachment(models.Model):
    """Metadata of a supporting document (第二十二条: licence copy, method description, contract …).
    The bytes are not kept by weifei (no media storage is configured); the SHA-256 ties the row to
    the file the consignor holds and travels in the exchange message."""

    class Kind(models.TextChoices):
        LICENCE = "licence", "接受人经营许可证复印件"
        METHOD = "method", "接受人贮存、利用或处置方式说明"
        CONTRACT = "contract", "委托协议、意向或合同"
        OTHER = "other", "其他材料"

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="attachments")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.OTHER)
    name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Step(models.Model):
    class Kind(models.TextChoices):
        COMPLETENESS = "completeness", "受理（材料齐全性审查）"
        PRELIMINARY = "preliminary", "初步审核"
        SIMPLIFIED = "simplified", "受理与初步审核（简化程序）"
        RECEIVING = "receiving", "接受地省份复函"
        DECISION = "decision", "审批决定"

    class Outcome(models.TextChoices):
        OPEN = "", "办理中"
        ACCEPTED = "accepted", "受理"
        DEEMED_ACCEPTED = "deemed_accepted", "逾期未告知，视为受理"
        RETURNED = "returned", "退回补正"
        AGREED = "agreed", "同意"
        DISAGREED = "disagreed", "不同意"
        APPROVED = "approved", "批准"
        REFUSED = "refused", "不予批准"
        WITHDRAWN = "withdrawn", "申请人撤回"

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    started_on = models.DateField()
    working_days = models.PositiveSmallIntegerField()
    due_on = models.DateField()
    opened_at = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.OPEN, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    actor_user_id = models.IntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    comment = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["application"], condition=models.Q(outcome=""), name="approvals_one_open_step"
            )
        ]
        indexes = [models.Index(fields=["outcome", "due_on"])]

    def __str__(self) -> str:
        return f"{self.kind} → {self.due_on}"


class Approval(models.Model):
    """The decision's content (第二十七条): waste, codes, tonnes, parties, method, validity."""

    application = models.OneToOneField(Application, on_delete=models.PROTECT, related_name="approval")
    number = models.CharField(max_length=32, unique=True)
    decided_on = models.DateField()
    valid_from = models.DateField()
    valid_to = models.DateField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.number


class ApprovalLine(models.Model):
    approval = models.ForeignKey(Approval, on_delete=models.CASCADE, related_name="lines")
    waste_code = models.CharField(max_length=10)
    waste_name = models.CharField(max_length=200)
    approved_tonnes = models.DecimalField(max_digits=14, decimal_places=6)
    consumed_tonnes = models.DecimalField(max_digits=14, decimal_places=6, default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["approval", "waste_code"], name="approvals_approved_code_once"),
            models.CheckConstraint(
                condition=models.Q(consumed_tonnes__gte=0) & models.Q(consumed_tonnes__lte=models.F("approved_tonnes")),
                name="approvals_consumed_within_approved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.waste_code} {self.approved_tonnes} t"


class Consumption(models.Model):
    """Tonnes one manifest takes from an approval line; a cancelled manifest releases them."""

    line = models.ForeignKey(ApprovalLine, on_delete=models.PROTECT, related_name="consumptions")
    manifest_number = models.CharField(max_length=20)
    tonnes = models.DecimalField(max_digits=14, decimal_places=6)
    on = models.DateField()
    consumed_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["line", "manifest_number"],
                condition=models.Q(released_at__isnull=True),
                name="approvals_consumption_once_per_manifest",
            )
        ]

    def __str__(self) -> str:
        return f"{self.manifest_number} {self.tonnes} t"


class WhitelistEntry(models.Model):
    """An enterprise on the simplified procedure (Seed 十三), kept by the province."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="whitelist_entries")
    basis = models.CharField("依据（信用评价、风险等级）", max_length=500)
    added_by_user_id = models.IntegerField(null=True, blank=True)
    added_by_label = models.CharField(max_length=150)
    added_at = models.DateTimeField(auto_now_add=True)
    valid_from = models.DateField()
    valid_to = models.DateField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"白名单 {self.enterprise_id}"


class IncomingRequest(models.Model):
    """A 商请函 from another province with Jilin as the receiving province (第二十五条)."""

    class Status(models.TextChoices):
        OPEN = "open", "待复函"
        REPLIED = "replied", "已复函"

    request_id = models.CharField(max_length=64, unique=True)
    origin_province = models.CharField(max_length=6)
    application_ref = models.CharField(max_length=64)
    consignor_name = models.CharField(max_length=200)
    consignor_credit_code = models.CharField(max_length=18)
    receiver_name = models.CharField(max_length=200)
    receiver_credit_code = models.CharField(max_length=18)
    receiver_licence_number = models.CharField(max_length=60)
    method_code = models.CharField(max_length=8)
    period_from = models.DateField()
    period_to = models.DateField()
    lines = models.JSONField(default=list)
    attachments = models.JSONField(default=list)
    message = models.JSONField(default=dict)
    received_on = models.DateField()
    due_on = models.DateField()
    recorded_at = models.DateTimeField()
    recorded_by_label = models.CharField(max_length=150)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    decision = models.CharField(max_length=10, blank=True)
    comment = models.CharField(max_length=1000, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    responder = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.request_id


class ApprovalFinding(models.Model):
    """An overdue step or incoming request, raised once by the sweep (the key makes it idempotent)."""

    rule = models.CharField(max_length=40)
    key = models.CharField(max_length=80, unique=True)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, null=True, blank=True)
    incoming = models.ForeignKey(IncomingRequest, on_delete=models.CASCADE, null=True, blank=True)
    message = models.CharField(max_length=300)
    raised_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.key
