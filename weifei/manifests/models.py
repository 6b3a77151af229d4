"""电子转移联单 (转移办法 第六条–第二十条): one manifest per vehicle trip and waste class.

The manifest row holds the header and its state; lines, containers, carrier legs and signatures
are rows of their own so that each can be checked and queried (regulations.md §2.4–§2.7). The
state changes only through ``weifei.manifests.services.manifest_transition``, which applies the
lifecycle table in ``weifei.manifests.lifecycle``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import models

from weifei.core import fastsql
from weifei.registry.models import Driver, Enterprise, Site, Vehicle


class State(models.TextChoices):
    DRAFT = "draft", "草稿"
    SUBMITTED = "submitted", "待运输"
    IN_TRANSIT = "in_transit", "运输中"
    ARRIVED = "arrived", "已到达"
    DISCREPANCY = "discrepancy", "差异待处理"
    RECEIVED = "received", "已接收"
    REJECTED = "rejected", "已拒收"
    RETURNING = "returning", "退回途中"
    RETURNED = "returned", "已退回"
    TREATED = "treated", "已利用处置"
    CLOSED = "closed", "已闭环"
    CANCELLED = "cancelled", "已作废"


class Manifest(models.Model):
    class TransferType(models.TextChoices):
        IN_PROVINCE = "in_province", "省内转移"
        CROSS_PROVINCE = "cross_province", "跨省转移"

    class Acceptance(models.TextChoices):
        FULL = "full", "全部接受"
        PARTIAL = "partial", "部分接受"
        REJECTED = "rejected", "拒收"

    number = models.CharField("联单编号", max_length=14, unique=True)
    version = models.PositiveIntegerField("版本", default=1)
    state = models.CharField("状态", max_length=12, choices=State.choices, default=State.DRAFT)
    state_changed_at = models.DateTimeField("状态变更时间")
    transfer_type = models.CharField("转移类型", max_length=16, choices=TransferType.choices)
    consignor = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="manifests_sent")
    consignor_site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="manifests_sent")
    receiver = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="manifests_received")
    # A redirect after a refusal changes the receiver; the first one is kept here.
    original_receiver = models.ForeignKey(Enterprise, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    receiver_site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="manifests_received"
    )
    receiver_licence_number = models.CharField("接受人经营许可证编号", max_length=60, blank=True)
    # 托运人 (第三十一条): only the 移出人 or the 接受人 may commission the carrier.
    shipper = models.CharField("托运人", max_length=10, choices=[("consignor", "移出人"), ("receiver", "接受人")])
    # The cross-province approval this transfer uses (weifei.approvals; a reference until it lands).
    approval_reference = models.CharField("跨省转移批准文号", max_length=60, blank=True)
    planned_method_code = models.CharField("拟利用/处置方式代码", max_length=8)
    emergency_measures = models.TextField("突发环境事件防范措施")
    # Plan-coverage warnings when MANIFEST_PLAN_POLICY is "warn" (guards.plan_covers).
    warnings = models.JSONField("提示", default=list, blank=True)
    paper_fallback = models.BooleanField("纸质联单补录", default=False)
    completed_on = models.DateField("转移完成日", null=True, blank=True)  # paper fallback: 10 working days
    paper_entered_late = models.BooleanField("纸质联单逾期补录", default=False)
    # Supervision flags raised by the sweep, once each ("receipt" = not confirmed within 5 working days).
    overdue = models.JSONField("逾期", default=list, blank=True)
    acceptance = models.CharField("接受意见", max_length=10, choices=Acceptance.choices, blank=True)
    refused_tonnes = models.DecimalField("拒收量（吨）", max_digits=14, decimal_places=6, null=True, blank=True)
    refusal_reason = models.CharField("拒收原因", max_length=300, blank=True)
    discrepancy = models.JSONField("差异", default=dict, blank=True)  # {kinds: [...], description, reported_at}
    accepted_on = models.DateField("接受日期", null=True, blank=True)
    receipt_due_on = models.DateField("接收确认截止日", null=True, blank=True)  # accepted_on + 5 working days
    treatment_method = models.CharField("利用/处置方式代码", max_length=8, blank=True)
    treatment_result = models.CharField("利用/处置结果", max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)  # the `updated_after` feed

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["consignor", "state"], name="manifest_consignor_state"),
            models.Index(fields=["receiver", "state"], name="manifest_receiver_state"),
        ]
        verbose_name = "电子转移联单"
        verbose_name_plural = "电子转移联单"

    def __str__(self) -> str:
        return self.number

    # The load's own rows, read once per instance and reused: a transition's guards, its effects,
    # the signature's content hash, the notification and the API answer all look at the same lines,
    # legs and containers (services._locked holds the row lock, so they cannot change underneath).
    # Code that adds or removes such rows calls ``forget_rows``.
    def _rows(self, name: str, load: Callable[[], list[Any]], key: Callable[[Any], Any]) -> list[Any]:
        cache: dict[str, list[Any]] = self.__dict__.setdefault("_row_cache", {})
        if name not in cache:
            prefetched = getattr(self, "_prefetched_objects_cache", {}).get(name)  # prefetch_related(name)
            cache[name] = sorted(prefetched, key=key) if prefetched is not None else load()
        return cache[name]

    def line_rows(self) -> list[ManifestLine]:
        """The lines in id order."""
        return self._rows(
            "lines", lambda: fastsql.select(ManifestLine, "manifest_id = %s", [self.pk], order_by="id"), lambda x: x.pk
        )

    def leg_rows(self) -> list[ManifestLeg]:
        """The legs in order, with carrier, vehicle and driver."""
        return self._rows(
            "legs",
            lambda: fastsql.select(
                ManifestLeg,
                "t0.manifest_id = %s",
                [self.pk],
                related=("carrier", "vehicle", "driver"),
                order_by='t0."order"',
            ),
            lambda x: x.order,
        )

    def container_rows(self) -> list[ManifestContainer]:
        """The loaded containers in label-code order, with their line."""
        return self._rows(
            "containers",
            lambda: sorted(
                fastsql.select(ManifestContainer, "t0.manifest_id = %s", [self.pk], related=("line",)),
                key=lambda x: x.label_code,  # by code point, whatever the database's collation
            ),
            lambda x: x.label_code,
        )

    def forget_rows(self) -> None:
        self.__dict__.pop("_row_cache", None)

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        self.forget_rows()
        super().refresh_from_db(*args, **kwargs)


class ManifestLine(models.Model):
    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="lines")
    waste_code = models.CharField("废物代码", max_length=10)
    category = models.CharField("废物类别", max_length=4)
    waste_name = models.CharField("废物名称", max_length=200)
    common_name = models.CharField("俗称", max_length=100, blank=True)
    hazards = models.CharField("危险特性", max_length=20, blank=True)
    form = models.CharField("形态", max_length=20, blank=True)
    packaging = models.CharField("包装方式", max_length=40, blank=True)
    container_count = models.PositiveIntegerField("容器数量", default=0)
    declared_tonnes = models.DecimalField("移出量（吨）", max_digits=14, decimal_places=6)
    received_tonnes = models.DecimalField("接受量（吨）", max_digits=14, decimal_places=6, null=True, blank=True)
    dg_class = models.CharField("危险货物类别", max_length=10, blank=True)
    un_number = models.CharField("联合国编号", max_length=6, blank=True)
    # 豁免清单 (regulations.md §4.3): the item and the stage the consignor claims for this waste; the
    # guards of that stage only are relaxed (guards.exempt_lines).
    exemption_seq = models.PositiveSmallIntegerField("豁免清单序号", null=True, blank=True)
    exemption_stage = models.CharField("豁免环节", max_length=20, blank=True)

    class Meta:
        ordering = ["manifest", "id"]

    def __str__(self) -> str:
        return f"{self.manifest_id} {self.waste_code} {self.declared_tonnes} t"


class ManifestContainer(models.Model):
    """A labelled container loaded on the manifest (its HJ 1276 code, checked against the ledger)."""

    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="containers")
    line = models.ForeignKey(ManifestLine, on_delete=models.CASCADE, related_name="containers")
    label_code = models.CharField("数字识别码", max_length=40)
    tonnes = models.DecimalField("重量（吨）", max_digits=14, decimal_places=6)
    scanned_at = models.DateTimeField("装载扫码时间", null=True, blank=True)
    # The consignor's ledger entries written at pickup (出库 and 委外), reversed if the load comes back.
    ledger_entry_ids = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["manifest", "id"]
        constraints = [models.UniqueConstraint(fields=["manifest", "label_code"], name="uniq_manifest_container")]

    def __str__(self) -> str:
        return self.label_code


class ManifestLeg(models.Model):
    """One carrier's part of the trip (联运: several legs in order, 第十七条)."""

    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="legs")
    order = models.PositiveSmallIntegerField("顺序")
    carrier = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="manifest_legs")
    vehicle = models.ForeignKey(Vehicle, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    driver = models.ForeignKey(Driver, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    start_point = models.CharField("起点", max_length=200, blank=True)
    end_point = models.CharField("终点", max_length=200, blank=True)
    picked_up_at = models.DateTimeField("接收时间", null=True, blank=True)
    handover_at = models.DateTimeField("交接时间", null=True, blank=True)
    handover_place = models.CharField("交接地点", max_length=200, blank=True)

    class Meta:
        ordering = ["manifest", "order"]
        constraints = [models.UniqueConstraint(fields=["manifest", "order"], name="uniq_manifest_leg_order")]

    def __str__(self) -> str:
        return f"{self.manifest_id} leg {self.order}"


class Signature(models.Model):
    """Who signed which step, as whom, when, how, and over what content (a hash of the manifest)."""

    manifest = models.ForeignKey(Manifest, on_delete=models.PROTECT, related_name="signatures")
    event = models.CharField("事项", max_length=30)
    role = models.CharField("身份", max_length=20)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    organisation = models.ForeignKey(Enterprise, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField("签署时间")
    method = models.CharField("方式", max_length=20)
    content_hash = models.CharField("内容摘要", max_length=64)
    from_state = models.CharField(max_length=12)
    to_state = models.CharField(max_length=12)
    reason = models.CharField("理由", max_length=300, blank=True)

    class Meta:
        ordering = ["manifest", "signed_at", "id"]

    def __str__(self) -> str:
        return f"{self.manifest_id} {self.event} {self.role}"


class ManifestCounter(models.Model):
    """The last serial per year and origin prefecture; locked (select_for_update) while numbering."""

    year = models.PositiveSmallIntegerField()
    prefecture = models.CharField(max_length=2)
    last_serial = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["year", "prefecture"], name="uniq_manifest_counter")]

    def __str__(self) -> str:
        return f"{self.year}22{self.prefecture}: {self.last_serial}"


class RoadControlLink(models.Model):
    """A time-limited link for road control (traffic police): opens the manifest PDF without login.
    Only the SHA-256 of the token is stored; the token itself is shown once (in the QR code)."""

    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="road_links")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField("失效时间")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.manifest_id} until {self.expires_at:%Y-%m-%d %H:%M}"


class RevisionRequest(models.Model):
    """A change to a manifest after a second party has signed (scope 5): the initial and proposed
    values are kept; every other party that has signed approves; approval applies the change as a
    new version. Recorded with times as evidence of a prompt correction (第二十九条第三款)."""

    class Status(models.TextChoices):
        PENDING = "pending", "待确认"
        APPROVED = "approved", "已确认"
        REFUSED = "refused", "已拒绝"
        WITHDRAWN = "withdrawn", "已撤回"

    manifest = models.ForeignKey(Manifest, on_delete=models.PROTECT, related_name="revisions")
    requested_by_role = models.CharField(max_length=20)
    requested_by_organisation = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField("修改理由", max_length=300)
    # [{"target": "line:12" | "manifest" | "leg:1", "field": "...", "initial": "...", "proposed": "..."}]
    changes = models.JSONField()
    # Organisation ids whose approval is needed, and those that approved: {"<id>": "<ISO time>"}.
    required = models.JSONField(default=list)
    approvals = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.CharField(max_length=300, blank=True)
    version_before = models.PositiveIntegerField()
    version_after = models.PositiveIntegerField(null=True, blank=True)
    # Applied within the correction window (MANIFEST_PROMPT_CORRECTION_WORKING_DAYS) of the first
    # signature after which it was needed: "及时更正".
    corrected_promptly = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["manifest", "-created_at"]

    def __str__(self) -> str:
        return f"{self.manifest_id} revision {self.id} ({self.status})"
