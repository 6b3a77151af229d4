"""The registry: who the units are and what they may do.

This first cut holds what the foundation needs (enterprises with their region and roles,
generation profiles, carriers' vehicles, operators' licences); the registry issue grows it
into sites, facilities, licence versions, drivers, contracts and EIA approvals.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from weifei.catalog.models import Region


class Verification(models.TextChoices):
    PENDING = "pending", "待核验"
    VERIFIED = "verified", "已核验"
    REJECTED = "rejected", "未通过"


class Enterprise(models.Model):
    """A unit keyed by its 统一社会信用代码. Self-registered units start ``pending``; a regulator
    of the supervising region verifies them before they may act as collector, carrier or operator."""

    credit_code = models.CharField("统一社会信用代码", max_length=18, unique=True)
    name = models.CharField("单位名称", max_length=200)
    legal_representative = models.CharField("法定代表人", max_length=50, blank=True)
    address = models.CharField("注册地址", max_length=300, blank=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="enterprises")
    industry_code = models.CharField("行业代码（GB/T 4754）", max_length=5, blank=True)
    industry_name = models.CharField("行业", max_length=100, blank=True)
    is_generator = models.BooleanField("产废单位", default=False)
    is_carrier = models.BooleanField("承运人", default=False)
    is_operator = models.BooleanField("经营单位", default=False)
    is_collector = models.BooleanField("收集单位", default=False)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    contact_phone = models.CharField("联系电话", max_length=30, blank=True)
    contact_name = models.CharField("联系人", max_length=50, blank=True)
    contact_email = models.EmailField("电子邮箱", blank=True)
    verification = models.CharField(
        "核验状态", max_length=10, choices=Verification.choices, default=Verification.VERIFIED
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verification_note = models.CharField("核验意见", max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["credit_code"]
        verbose_name = "单位"
        verbose_name_plural = "单位"

    def __str__(self) -> str:
        return self.name


class ManagementClass(models.TextChoices):
    """HJ 1259—2022 4.2: 重点监管 / 简化管理 / 登记管理."""

    KEY = "key", "重点监管单位"
    SIMPLIFIED = "simplified", "简化管理单位"
    REGISTERED = "registered", "登记管理单位"


class Site(models.Model):
    """生产经营场所: the place management class, plans and ledgers attach to (HJ 1259: per site)."""

    class Role(models.TextChoices):
        GENERATOR = "generator", "产生"
        COLLECTOR = "collector", "收集"
        CARRIER_BASE = "carrier_base", "运输车辆停放"
        OPERATOR = "operator", "利用处置"

    class Status(models.TextChoices):
        ACTIVE = "active", "正常生产"
        SUSPENDED = "suspended", "停产"
        CLOSED = "closed", "关闭"

    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="sites")
    name = models.CharField("场所名称", max_length=200)
    address = models.CharField("地址", max_length=300)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="sites")
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    industry_code = models.CharField("行业代码（GB/T 4754）", max_length=5, blank=True)
    industry_name = models.CharField("行业", max_length=100, blank=True)
    roles = models.JSONField("场所角色", default=list)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.ACTIVE)
    suspended_from = models.DateField("停产起", null=True, blank=True)
    suspended_until = models.DateField("停产止", null=True, blank=True)
    closed_on = models.DateField("关闭日期", null=True, blank=True)
    operation_started_on = models.DateField("投产日期", null=True, blank=True)
    eia_annual_tonnes = models.DecimalField(
        "环评核算年产生量（吨）", max_digits=14, decimal_places=3, null=True, blank=True
    )
    permit_annual_tonnes = models.DecimalField(
        "排污许可核算年产生量（吨）", max_digits=14, decimal_places=3, null=True, blank=True
    )
    management_class = models.CharField("管理类别", max_length=12, choices=ManagementClass.choices, blank=True)
    management_class_computed = models.CharField(max_length=12, choices=ManagementClass.choices, blank=True)
    management_class_basis = models.CharField("判定依据", max_length=300, blank=True)
    management_class_override = models.CharField(max_length=12, choices=ManagementClass.choices, blank=True)
    management_class_override_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["enterprise", "id"]
        constraints = [models.UniqueConstraint(fields=["enterprise", "name"], name="uniq_site_name_per_enterprise")]
        indexes = [models.Index(fields=["region", "status"])]
        verbose_name = "生产经营场所"
        verbose_name_plural = "生产经营场所"

    def __str__(self) -> str:
        return f"{self.enterprise.name} {self.name}"


class GenerationProfile(models.Model):
    """What a site generated in a year (the annual figure management class is computed from)."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="generation")
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.CASCADE, related_name="generation")
    year = models.PositiveSmallIntegerField()
    waste_code = models.CharField("废物代码", max_length=10)
    annual_tonnes = models.DecimalField("年产生量（吨）", max_digits=14, decimal_places=3)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "year", "waste_code"], name="uniq_generation_profile")
        ]
        verbose_name = "产废情况"
        verbose_name_plural = "产废情况"

    def __str__(self) -> str:
        return f"{self.enterprise_id} {self.year} {self.waste_code} {self.annual_tonnes} t"


class Facility(models.Model):
    """A generating, storage, utilization or disposal facility, coded in HJ 608 style:
    credit code + 3-digit sequence + type letter (G/S/U/D: weifei's letters, the standard's
    own letter table is UNCONFIRMED)."""

    class Kind(models.TextChoices):
        GENERATING = "generating", "产生设施"
        STORAGE = "storage", "贮存设施"
        UTILIZATION = "utilization", "利用设施"
        DISPOSAL = "disposal", "处置设施"

    KIND_LETTERS = {"generating": "G", "storage": "S", "utilization": "U", "disposal": "D"}

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="facilities")
    code = models.CharField("设施编码", max_length=22, unique=True)
    kind = models.CharField("类型", max_length=12, choices=Kind.choices)
    name = models.CharField("名称", max_length=200)
    design_capacity_tonnes = models.DecimalField(
        "设计能力（吨/年）", max_digits=14, decimal_places=3, null=True, blank=True
    )
    storage_capacity_tonnes = models.DecimalField(
        "贮存能力（吨）", max_digits=14, decimal_places=3, null=True, blank=True
    )
    in_service = models.BooleanField("在用", default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = "设施"
        verbose_name_plural = "设施"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Licence(models.Model):
    """危险废物经营许可证 (许可办法 第三条, 第七条, 第十条, 第十三条)."""

    class Kind(models.TextChoices):
        COMPREHENSIVE = "comprehensive", "综合经营"
        COLLECTION = "collection", "收集经营"

    class Level(models.TextChoices):
        PROVINCE = "province", "省级"
        PREFECTURE = "prefecture", "设区的市级"
        COUNTY = "county", "县级"

    class Status(models.TextChoices):
        VALID = "valid", "有效"
        SUSPENDED = "suspended", "暂扣"
        REVOKED = "revoked", "吊销"
        EXPIRED = "expired", "过期"  # derived from the dates; never stored

    holder = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="licences")
    number = models.CharField("许可证编号", max_length=40, unique=True)
    kind = models.CharField("类别", max_length=16, choices=Kind.choices)
    issuing_level = models.CharField("发证级别", max_length=12, choices=Level.choices, default=Level.PROVINCE)
    # The authority that issued it. Required for an out-of-province holder, whose licence its own
    # province issues (e.g. 辽宁省生态环境厅) and Jilin only records; blank for Jilin's own licences.
    issuing_authority = models.CharField("发证机关", max_length=100, blank=True)
    methods = models.JSONField("经营方式", default=list)  # collection, storage, utilization, disposal
    annual_capacity_tonnes = models.DecimalField("核准经营规模（吨/年）", max_digits=14, decimal_places=3)
    facility_addresses = models.TextField("贮存、处置设施地址", blank=True)
    valid_from = models.DateField("有效期自")
    valid_to = models.DateField("有效期至")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.VALID)
    version = models.PositiveIntegerField("版本", default=1)

    class Meta:
        ordering = ["number"]
        verbose_name = "经营许可证"
        verbose_name_plural = "经营许可证"

    def __str__(self) -> str:
        return self.number


class LicenceAggregate(models.Model):
    """A facility scale shared by several codes (seed 十九: 多个代码共用一条生产线的总规模)."""

    licence = models.ForeignKey(Licence, on_delete=models.CASCADE, related_name="aggregates")
    name = models.CharField("共用设施", max_length=100)
    annual_tonnes = models.DecimalField("共用核准规模（吨/年）", max_digits=14, decimal_places=3)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["licence", "name"], name="uniq_aggregate_name")]

    def __str__(self) -> str:
        return f"{self.licence.number} {self.name}"


class LicenceScope(models.Model):
    """One covered category (HWxx) or code with its annual scale."""

    licence = models.ForeignKey(Licence, on_delete=models.CASCADE, related_name="scopes")
    category = models.CharField("类别", max_length=4, blank=True)
    waste_code = models.CharField("废物代码", max_length=10, blank=True)
    annual_tonnes = models.DecimalField("核准规模（吨/年）", max_digits=14, decimal_places=3)
    aggregate = models.ForeignKey(
        LicenceAggregate, null=True, blank=True, on_delete=models.CASCADE, related_name="scopes"
    )

    class Meta:
        ordering = ["licence", "category", "waste_code"]

    def __str__(self) -> str:
        return self.waste_code or self.category


class LicenceVersion(models.Model):
    """Each change of a licence, as a snapshot (licence changes are versions)."""

    licence = models.ForeignKey(Licence, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    snapshot = models.JSONField()
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["licence", "version"]
        constraints = [models.UniqueConstraint(fields=["licence", "version"], name="uniq_licence_version")]

    def __str__(self) -> str:
        return f"{self.licence_id} v{self.version}"


class RoadTransportLicence(models.Model):
    """道路运输经营许可证 of a carrier."""

    carrier = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="road_licences")
    number = models.CharField("许可证号", max_length=40, unique=True)
    scope = models.CharField("经营范围", max_length=200)
    valid_from = models.DateField()
    valid_to = models.DateField()

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number


class Vehicle(models.Model):
    class Registration(models.TextChoices):
        PENDING = "pending", "待备案"
        APPROVED = "approved", "已备案"
        REJECTED = "rejected", "未通过"

    carrier = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="vehicles")
    plate = models.CharField("车牌号", max_length=12, unique=True)
    transport_certificate = models.CharField("道路运输证号", max_length=30)
    payload_tonnes = models.DecimalField("核定载质量（吨）", max_digits=8, decimal_places=3)
    dangerous_goods_classes = models.JSONField("危险货物类别", default=list)
    gps_terminal_id = models.CharField("卫星定位终端号", max_length=30, blank=True)
    valid_until = models.DateField("道路运输证有效期至")
    inspection_valid_until = models.DateField("检验有效期至", null=True, blank=True)
    registration = models.CharField(
        "备案状态", max_length=10, choices=Registration.choices, default=Registration.PENDING
    )
    registration_note = models.CharField("备案意见", max_length=500, blank=True)

    class Meta:
        ordering = ["plate"]
        verbose_name = "运输车辆"
        verbose_name_plural = "运输车辆"

    def __str__(self) -> str:
        return self.plate


class Driver(models.Model):
    """A driver or escort (押运员) with a qualification certificate (从业资格证)."""

    class Role(models.TextChoices):
        DRIVER = "driver", "驾驶员"
        ESCORT = "escort", "押运员"

    carrier = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="drivers")
    name = models.CharField("姓名", max_length=50)
    role = models.CharField("岗位", max_length=10, choices=Role.choices)
    certificate_number = models.CharField("从业资格证号", max_length=40, unique=True)
    certificate_valid_until = models.DateField("资格证有效期至")
    phone = models.CharField("电话", max_length=30, blank=True)

    class Meta:
        ordering = ["carrier", "name"]
        verbose_name = "驾驶员与押运员"
        verbose_name_plural = "驾驶员与押运员"

    def __str__(self) -> str:
        return f"{self.name}（{self.get_role_display()}）"


class Contract(models.Model):
    """A written contract: consignor ↔ receiver (委托利用处置) or shipper ↔ carrier (运输)."""

    class Kind(models.TextChoices):
        DISPOSAL = "disposal", "委托利用处置"
        TRANSPORT = "transport", "委托运输"

    kind = models.CharField("类型", max_length=10, choices=Kind.choices)
    number = models.CharField("合同编号", max_length=60)
    party_a = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="contracts_as_a")
    party_b = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="contracts_as_b")
    waste_codes = models.JSONField("废物代码", default=list)
    planned_tonnes = models.DecimalField("计划量（吨）", max_digits=14, decimal_places=3)
    valid_from = models.DateField()
    valid_to = models.DateField()

    class Meta:
        ordering = ["-valid_from", "number"]
        constraints = [models.UniqueConstraint(fields=["party_a", "number"], name="uniq_contract_number_per_party")]
        verbose_name = "合同"
        verbose_name_plural = "合同"

    def __str__(self) -> str:
        return self.number


class EIAApproval(models.Model):
    """环评批复: expected waste codes, quantities and destinations (seed 九 compares them later)."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="eia_approvals")
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.PROTECT, related_name="eia_approvals")
    project = models.CharField("项目名称", max_length=200)
    approval_number = models.CharField("批复文号", max_length=80, unique=True)
    approved_on = models.DateField("批复日期")
    authority = models.CharField("审批部门", max_length=100)
    expected_wastes = models.JSONField("预计产生的危险废物", default=list)  # [{waste_code, annual_tonnes, destination}]

    class Meta:
        ordering = ["-approved_on"]
        verbose_name = "环评批复"
        verbose_name_plural = "环评批复"

    def __str__(self) -> str:
        return self.approval_number


class Insurance(models.Model):
    """环境污染责任保险 (seed 七)."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="insurances")
    insurer = models.CharField("保险公司", max_length=100)
    policy_number = models.CharField("保单号", max_length=60, unique=True)
    coverage_yuan = models.DecimalField("保险金额（元）", max_digits=16, decimal_places=2)
    valid_from = models.DateField()
    valid_to = models.DateField()

    class Meta:
        ordering = ["-valid_to"]
        verbose_name = "环境污染责任保险"
        verbose_name_plural = "环境污染责任保险"

    def __str__(self) -> str:
        return self.policy_number


class EmergencyPlanFiling(models.Model):
    """突发环境事件应急预案备案."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="emergency_plans")
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.PROTECT, related_name="emergency_plans")
    filing_number = models.CharField("备案编号", max_length=60, unique=True)
    filed_on = models.DateField("备案日期")
    authority = models.CharField("备案部门", max_length=100)
    valid_until = models.DateField("有效期至", null=True, blank=True)

    class Meta:
        ordering = ["-filed_on"]
        verbose_name = "应急预案备案"
        verbose_name_plural = "应急预案备案"

    def __str__(self) -> str:
        return self.filing_number
