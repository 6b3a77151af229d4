"""危险废物管理计划 (HJ 1259—2022 5; 固废法 第七十八条): one plan per production site per year.

``ManagementPlan`` is the current state of a site's plan for a year (unique per site and year);
its lines (Annex A tables A.3–A.7) are ``PlanLine`` rows so that later capabilities (the
manifest's "is this transfer in the plan" check, the ledger) can query them. Each filing
freezes the plan and its lines into a ``ManagementPlanVersion`` snapshot: a change after filing
bumps ``version`` and reopens the draft, the earlier filed versions stay as they were.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from weifei.registry.models import Enterprise, Facility, ManagementClass, Site


class Section(models.TextChoices):
    A1 = "A1", "A.1 单位基本信息"
    A2 = "A2", "A.2 设施信息"
    A3 = "A3", "A.3 产生情况"
    A4 = "A4", "A.4 贮存情况"
    A5 = "A5", "A.5 自行利用/处置情况"
    A6 = "A6", "A.6 减量化计划和措施"
    A7 = "A7", "A.7 转移情况"


class ManagementPlan(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        FILED = "filed", "已备案"
        RETURNED = "returned", "已退回"
        ACCEPTED = "accepted", "审核通过"

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="plans")
    year = models.PositiveSmallIntegerField("计划年度")
    version = models.PositiveIntegerField("版本", default=1)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.DRAFT)
    management_class = models.CharField("管理类别", max_length=12, choices=ManagementClass.choices)
    # Unique once assigned; a change after filing keeps it (HJ 1259 5.2.3 updates the filed plan).
    filing_number = models.CharField("备案编号", max_length=20, unique=True, null=True, blank=True)
    filed_at = models.DateTimeField("备案时间", null=True, blank=True)
    first_filed_at = models.DateTimeField("首次备案时间", null=True, blank=True)
    late = models.BooleanField("逾期备案", default=False)
    reviewed_at = models.DateTimeField("审核时间", null=True, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    review_comment = models.CharField("审核意见", max_length=500, blank=True)
    change_reason = models.CharField("变更原因", max_length=500, blank=True)
    content = models.JSONField("A.1/A.2 内容", default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-year", "site_id"]
        constraints = [models.UniqueConstraint(fields=["site", "year"], name="uniq_plan_per_site_year")]
        verbose_name = "管理计划"
        verbose_name_plural = "管理计划"

    def __str__(self) -> str:
        return f"{self.site_id} {self.year} v{self.version}"

    @property
    def enterprise(self) -> Enterprise:
        return self.site.enterprise


class PlanLine(models.Model):
    """One row of tables A.3–A.7. Which columns are used depends on ``section``."""

    class TransferType(models.TextChoices):
        IN_PROVINCE = "in_province", "省内转移"
        INTER_PROVINCE = "inter_province", "跨省转移"
        ABROAD = "abroad", "境外转移"

    class ReceiverType(models.TextChoices):
        LICENSED = "licensed", "经营许可证持有单位"
        EXEMPT = "exempt", "利用处置环节豁免管理单位"
        ABROAD = "abroad", "境外利用处置单位"

    plan = models.ForeignKey(ManagementPlan, on_delete=models.CASCADE, related_name="lines")
    section = models.CharField("表", max_length=2, choices=Section.choices)
    waste_code = models.CharField("废物代码", max_length=10)
    waste_name = models.CharField("废物名称", max_length=200, blank=True)
    # A.3 expected generation, A.4 expected year-end stock, A.5 amount handled, A.6 expected
    # reduction, A.7 amount transferred — always tonnes (regulations §13 rule 10).
    tonnes = models.DecimalField("数量（吨）", max_digits=14, decimal_places=3)
    facility_code = models.CharField("设施编码", max_length=22, blank=True)
    method_code = models.CharField("利用/处置方式代码", max_length=8, blank=True)
    measures = models.TextField("减量化措施", blank=True)
    transfer_type = models.CharField("转移类型", max_length=16, choices=TransferType.choices, blank=True)
    receiver_type = models.CharField("接收单位类型", max_length=10, choices=ReceiverType.choices, blank=True)
    receiver = models.ForeignKey(Enterprise, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    receiver_name = models.CharField("接收单位名称", max_length=200, blank=True)
    licence_number = models.CharField("经营许可证编号", max_length=40, blank=True)

    class Meta:
        ordering = ["plan", "section", "id"]
        indexes = [models.Index(fields=["section", "waste_code"])]

    def __str__(self) -> str:
        return f"{self.section} {self.waste_code} {self.tonnes} t"


class ManagementPlanVersion(models.Model):
    """A filed version, frozen: the A.1/A.2 content and the lines as they were filed."""

    plan = models.ForeignKey(ManagementPlan, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    filing_number = models.CharField(max_length=20)
    filed_at = models.DateTimeField()
    late = models.BooleanField(default=False)
    change_reason = models.CharField(max_length=500, blank=True)
    snapshot = models.JSONField()  # {"content": {...}, "lines": [{...}]}

    class Meta:
        ordering = ["plan", "version"]
        constraints = [models.UniqueConstraint(fields=["plan", "version"], name="uniq_plan_version")]

    def __str__(self) -> str:
        return f"{self.plan_id} v{self.version}"


class FilingCounter(models.Model):
    """The last serial handed out per region and year; locked (select_for_update) while numbering."""

    region_code = models.CharField(max_length=6)
    year = models.PositiveSmallIntegerField()
    last_serial = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["region_code", "year"], name="uniq_filing_counter")]

    def __str__(self) -> str:
        return f"{self.region_code}-{self.year}: {self.last_serial}"


class LedgerEntry(models.Model):
    """One record of the 管理台账 (HJ 1259 6.3, Annex B.1–B.5); never edited, corrected by reversal.

    ``quantity_tonnes`` is signed: a reversing entry (``reversal_of``) carries the negative of the
    entry it cancels and the same ``source``, so a batch's remaining quantity is its own net
    quantity minus the sum of what entries sourced from it took (see ``ledger.batch_remaining``).
    Rows are narrow and keyed by site and time (a province-year is of the order of a million rows).
    """

    class Kind(models.TextChoices):
        GENERATED = "generated", "产生"
        STORED_IN = "stored_in", "入库"
        STORED_OUT = "stored_out", "出库"
        SELF_TREATED = "self_treated", "自行利用/处置"
        SENT_OUT = "sent_out", "委外利用/处置"
        # The receiver's intake of a transfer manifest (written by weifei.manifests.ledger_link.receive).
        RECEIVED = "received", "接收"

    class Unit(models.TextChoices):
        TONNE = "t", "吨"
        KG = "kg", "千克"
        LITRE = "L", "升"
        CUBIC_METRE = "m3", "立方米"
        PIECE = "piece", "件"

    # No single-column index: every ledger index starts with site (one less index to maintain on import).
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="ledger_entries", db_index=False)
    kind = models.CharField("记录类型", max_length=12, choices=Kind.choices)
    batch_code = models.CharField("批次编码", max_length=24)
    occurred_at = models.DateTimeField("时间")
    waste_code = models.CharField("废物代码", max_length=10)
    category = models.CharField("废物类别", max_length=4)
    quantity_tonnes = models.DecimalField("数量（吨）", max_digits=14, decimal_places=6)
    entered_quantity = models.DecimalField("填报数量", max_digits=14, decimal_places=6)
    entered_unit = models.CharField("计量单位", max_length=5, choices=Unit.choices, default=Unit.TONNE)
    # Density (t/m3) for L and m3; null for t, kg (exact) and pieces (tonnes given explicitly).
    conversion_factor = models.DecimalField("密度（吨/立方米）", max_digits=12, decimal_places=6, null=True, blank=True)
    container_code = models.CharField("容器/包装编码", max_length=40, null=True, blank=True)
    container_type = models.CharField("容器/包装类型", max_length=40, blank=True)
    container_count = models.PositiveIntegerField("容器/包装数量", default=1)
    # The container's volume in litres, which sets the HJ 1276 label size (100/150/200 mm).
    container_litres = models.DecimalField("容器容积（升）", max_digits=10, decimal_places=2, null=True, blank=True)
    common_name = models.CharField("废物俗称", max_length=100, blank=True)
    destination = models.CharField("去向", max_length=100, blank=True)  # B.1/B.3 去向
    finished_at = models.DateTimeField("完毕时间", null=True, blank=True)  # B.4 利用/处置完毕时间
    facility = models.ForeignKey(Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    source = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="consumers", verbose_name="来源批次"
    )
    handler = models.CharField("经办人", max_length=60, blank=True)
    method_code = models.CharField("利用/处置方式代码", max_length=8, blank=True)
    receiver_type = models.CharField("接收单位类型", max_length=10, choices=PlanLine.ReceiverType.choices, blank=True)
    receiver = models.ForeignKey(Enterprise, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    receiver_name = models.CharField("接收单位名称", max_length=200, blank=True)
    # The licence number (licensed), the exemption item (exempt) or the export approval number (abroad).
    licence_number = models.CharField("许可证编号/豁免条目/出口核准通知单编号", max_length=60, blank=True)
    reversal_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by", verbose_name="冲销"
    )
    reason = models.CharField("原因", max_length=300, blank=True)
    # 接收: the transfer manifest the waste came with, and the label codes of its containers on that
    # manifest line (``container_code`` holds the code alone when there is exactly one). A database
    # default, so the bulk COPY paths that name their columns need no change.
    manifest_number = models.CharField("转移联单编号", max_length=20, blank=True, default="", db_default="")
    container_codes = models.JSONField("容器识别码", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["site", "occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["site", "batch_code"], name="uniq_ledger_batch_per_site"),
        ]
        indexes = [
            models.Index(fields=["site", "waste_code", "occurred_at"], name="ledger_site_code_time"),
            models.Index(fields=["site", "kind", "occurred_at"], name="ledger_site_kind_time"),
            models.Index(fields=["container_code"], name="ledger_container"),
            # A manifest's intake (idempotency of ledger_link.receive); partial: only 接收 rows carry one.
            models.Index(fields=["manifest_number"], name="ledger_manifest", condition=~models.Q(manifest_number="")),
        ]
        verbose_name = "台账记录"
        verbose_name_plural = "台账记录"

    def __str__(self) -> str:
        return f"{self.batch_code} {self.waste_code} {self.quantity_tonnes} t"


class LedgerCounter(models.Model):
    """The last batch sequence per site, prefix and day; locked (select_for_update) while numbering."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    prefix = models.CharField(max_length=8)
    day = models.DateField()
    last_seq = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "prefix", "day"], name="uniq_ledger_counter")]

    def __str__(self) -> str:
        return f"{self.site_id} {self.prefix}{self.day:%Y%m%d}: {self.last_seq}"


class LabelCounter(models.Model):
    """The last HJ 1276 label sequence (segment 4) per unit, waste code and day; locked while numbering."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    waste_code = models.CharField(max_length=10)
    day = models.DateField()
    last_seq = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "waste_code", "day"], name="uniq_label_counter"),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id} {self.waste_code} {self.day}: {self.last_seq}"


class Declaration(models.Model):
    """申报 (固废法 第七十八条; HJ 1259 7): one per site, kind and period, generated from the ledger.

    ``content`` holds the Annex C rows: ``{"rows": [{waste_code, category, opening, generated,
    self_treated: {total, by_method}, sent_out: {total, by_receiver}, closing}]}`` in tonnes (strings).
    """

    class Kind(models.TextChoices):
        MONTHLY = "monthly", "月度申报"
        QUARTERLY = "quarterly", "季度申报"
        ANNUAL = "annual", "年度申报"

    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        SUBMITTED = "submitted", "已申报"

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="declarations")
    kind = models.CharField("申报类型", max_length=10, choices=Kind.choices)
    period_start = models.DateField("申报期起")
    period_end = models.DateField("申报期止")
    due_on = models.DateField("申报截止日")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.DRAFT)
    generated_at = models.DateTimeField("生成时间")
    submitted_at = models.DateTimeField("申报时间", null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The licensed operator declaring on the unit's behalf (HJ 1259 7.1.3); null when the unit declares.
    declared_by_enterprise = models.ForeignKey(
        Enterprise, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name="代为申报单位"
    )
    late = models.BooleanField("逾期申报", default=False)
    content = models.JSONField("申报内容", default=dict)
    # 更正: a submitted declaration corrected after a ledger reversal; earlier submissions are kept
    # as DeclarationRevision rows.
    revision = models.PositiveIntegerField("更正次数", default=0)
    corrected_at = models.DateTimeField("更正时间", null=True, blank=True)

    class Meta:
        ordering = ["site", "-period_start", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["site", "kind", "period_start"], name="uniq_declaration_per_period")
        ]
        verbose_name = "申报"
        verbose_name_plural = "申报"

    def __str__(self) -> str:
        return f"{self.site_id} {self.kind} {self.period_start}"


class DeclarationRevision(models.Model):
    """A submitted declaration as it was before a correction (更正): frozen, never edited."""

    declaration = models.ForeignKey(Declaration, on_delete=models.PROTECT, related_name="revisions")
    revision = models.PositiveIntegerField()
    content = models.JSONField()
    submitted_at = models.DateTimeField()
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    declared_by_enterprise = models.ForeignKey(
        Enterprise, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    late = models.BooleanField(default=False)
    reason = models.CharField("更正原因", max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["declaration", "revision"]
        constraints = [
            models.UniqueConstraint(fields=["declaration", "revision"], name="uniq_declaration_revision"),
        ]

    def __str__(self) -> str:
        return f"{self.declaration_id} r{self.revision}"


class DeclarationMandate(models.Model):
    """委托申报 (HJ 1259 7.1.3): a unit authorises a licensed operator, or a third party approved by
    the local ecology-environment bureau, to declare on its behalf for a period."""

    class Basis(models.TextChoices):
        LICENSED = "licensed", "持证经营单位"
        APPROVED = "approved", "生态环境部门认可的第三方"

    class Status(models.TextChoices):
        PENDING = "pending", "待认可"
        ACTIVE = "active", "有效"
        REVOKED = "revoked", "已撤销"

    unit = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="declaration_mandates")
    agent = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="declaration_agencies")
    basis = models.CharField("依据", max_length=10, choices=Basis.choices)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    valid_from = models.DateField("委托起")
    valid_to = models.DateField("委托止")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField("认可时间", null=True, blank=True)
    revoked_at = models.DateTimeField("撤销时间", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["unit", "-valid_from"]
        verbose_name = "委托申报"
        verbose_name_plural = "委托申报"

    def __str__(self) -> str:
        return f"{self.unit_id} → {self.agent_id} ({self.status})"


class Finding(models.Model):
    """A supervision finding raised by a rule sweep on a unit's obligations (missing or late
    declarations and plans, storage over time or over capacity). One per (rule, site, key): raising
    again is a no-op, so sweeps are idempotent. The alerts capability builds on these rows."""

    class Severity(models.TextChoices):
        WARNING = "warning", "预警"
        VIOLATION = "violation", "违规"

    rule = models.CharField("规则", max_length=40)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="findings")
    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="+")
    # What the finding is about within the site: a period ("monthly:2026-01-01"), a container code…
    key = models.CharField("对象", max_length=80)
    severity = models.CharField("级别", max_length=10, choices=Severity.choices)
    message = models.CharField("说明", max_length=300)
    details = models.JSONField(default=dict)
    raised_at = models.DateTimeField("发现时间")
    resolved_at = models.DateTimeField("消除时间", null=True, blank=True)

    class Meta:
        ordering = ["-raised_at"]
        constraints = [models.UniqueConstraint(fields=["rule", "site", "key"], name="uniq_finding")]
        indexes = [models.Index(fields=["enterprise", "resolved_at"], name="finding_open_by_unit")]
        verbose_name = "监管发现"
        verbose_name_plural = "监管发现"

    def __str__(self) -> str:
        return f"{self.rule} {self.site_id} {self.key}"
