"""Reference data: catalogue versions, codes, exemptions, method codes, regions."""

from __future__ import annotations

from django.db import models

HAZARD_CHARACTERISTICS = {"T": "毒性", "C": "腐蚀性", "I": "易燃性", "R": "反应性", "In": "感染性"}

HAZARD_SEMANTICS = {
    "single": "单一危险特性",
    "comma:has_first_may_have_others": "具有第一项危险特性，可能具有其他危险特性（逗号）",
    "slash:has_one_or_more_of": "具有所列危险特性中的一种或多种（斜杠）",
}


class CatalogueVersion(models.Model):
    """A dated version of 国家危险废物名录. The version in force on a date is the latest one
    whose ``effective_from`` is not after that date."""

    key = models.CharField(max_length=16, unique=True)  # "2021", "2025"
    name = models.CharField(max_length=100)
    effective_from = models.DateField()
    legal_basis = models.CharField(max_length=200, blank=True)
    source = models.TextField(blank=True)
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["effective_from"]
        verbose_name = "名录版本"
        verbose_name_plural = "名录版本"

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    version = models.ForeignKey(CatalogueVersion, on_delete=models.CASCADE, related_name="categories")
    code = models.CharField(max_length=4)  # HW01
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["version", "code"]
        constraints = [models.UniqueConstraint(fields=["version", "code"], name="uniq_category_per_version")]
        verbose_name = "废物类别"
        verbose_name_plural = "废物类别"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class WasteCode(models.Model):
    version = models.ForeignKey(CatalogueVersion, on_delete=models.CASCADE, related_name="codes")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(max_length=10, db_index=True)
    industry_source = models.CharField(max_length=100)
    description = models.TextField()
    hazard_raw = models.CharField(max_length=40)
    hazards = models.JSONField(default=list)  # ["T", "I"], subset of HAZARD_CHARACTERISTICS
    hazard_primary = models.CharField(max_length=4, blank=True)  # the certain one, for "T，I"
    hazard_semantics = models.CharField(max_length=40)
    page = models.PositiveSmallIntegerField(null=True, blank=True)
    # Lower-cased concatenation of every searchable field, so one indexed scan answers a query.
    search_text = models.TextField(blank=True)

    class Meta:
        ordering = ["version", "code"]
        constraints = [models.UniqueConstraint(fields=["version", "code"], name="uniq_code_per_version")]
        verbose_name = "废物代码"
        verbose_name_plural = "废物代码"

    def __str__(self) -> str:
        return self.code

    @property
    def hazard_labels(self) -> list[str]:
        return [f"{h} {HAZARD_CHARACTERISTICS.get(h, h)}" for h in self.hazards]

    @property
    def hazard_meaning(self) -> str:
        return HAZARD_SEMANTICS.get(self.hazard_semantics, self.hazard_semantics)


class CodeMapping(models.Model):
    """How a code of one version corresponds to codes of the next (名录2021 → 名录2025)."""

    class Relation(models.TextChoices):
        SAME = "same", "不变"
        RENAMED = "renamed", "表述调整"
        MERGED = "merged", "合并"
        SPLIT = "split", "拆分"
        ADDED = "added", "新增"
        REMOVED = "removed", "删除"

    from_version = models.ForeignKey(CatalogueVersion, on_delete=models.CASCADE, related_name="+")
    from_code = models.CharField(max_length=10, blank=True)
    to_version = models.ForeignKey(CatalogueVersion, on_delete=models.CASCADE, related_name="+")
    to_code = models.CharField(max_length=10, blank=True)
    relation = models.CharField(max_length=10, choices=Relation.choices)
    note = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["from_version", "from_code", "to_version", "to_code"], name="uniq_code_mapping"
            )
        ]
        verbose_name = "代码对照"
        verbose_name_plural = "代码对照"

    def __str__(self) -> str:
        return f"{self.from_code or '—'} → {self.to_code or '—'} ({self.relation})"


class ExemptionItem(models.Model):
    """One row of 危险废物豁免管理清单: an item × waste × exempted stage."""

    version = models.ForeignKey(CatalogueVersion, on_delete=models.CASCADE, related_name="exemptions")
    seq = models.PositiveSmallIntegerField(db_index=True)  # 序号 1..32
    category_or_code = models.CharField(max_length=200)
    codes = models.JSONField(default=list)  # codes or categories the item names
    waste = models.TextField()
    stage = models.CharField(max_length=20)  # 全部环节, 收集, 运输, 利用, 处置, 利用、处置
    condition = models.TextField()
    exemption = models.TextField()

    class Meta:
        ordering = ["version", "seq", "id"]
        verbose_name = "豁免清单条目"
        verbose_name_plural = "豁免清单条目"

    def __str__(self) -> str:
        return f"豁免第{self.seq}项（{self.stage}）"


class DisposalMethod(models.Model):
    """利用/处置方式代码. Provisional until checked against HJ 1033 附录F."""

    class Kind(models.TextChoices):
        UTILIZATION = "utilization", "利用"
        DISPOSAL = "disposal", "处置"
        OTHER = "other", "其他"

    code = models.CharField(max_length=8, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=200)
    provisional = models.BooleanField(default=True)
    source = models.CharField(max_length=300)

    class Meta:
        ordering = ["kind", "code"]
        verbose_name = "利用处置方式"
        verbose_name_plural = "利用处置方式"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


# The province this instance supervises. Regions of other provinces (the neighbours 辽宁、黑龙江、
# 内蒙古, province and prefecture level) are loaded so out-of-province receivers and carriers can be
# registered; everything Jilin-specific (jurisdictions, numbering, pickers, statistics) ignores them.
HOME_PROVINCE = "220000"


class RegionQuerySet(models.QuerySet["Region"]):
    def home(self) -> RegionQuerySet:
        """Jilin's regions only (the province, its prefectures, counties, zones and areas)."""
        return self.filter(province_code=HOME_PROVINCE)

    def out_of_province(self) -> RegionQuerySet:
        return self.exclude(province_code=HOME_PROVINCE)


class Region(models.Model):
    """An administrative or supervision region.

    ``parent`` is the statutory (GB/T 2260 / NBS) parent used for coding; ``supervisor`` is
    the authority that supervises records located here, used for routing: 梅河口市 is coded
    under 通化市 but supervised by the province; 长白山管委会's areas by 长白山管委会.
    """

    class Level(models.TextChoices):
        PROVINCE = "province", "省"
        PREFECTURE = "prefecture", "市（州）"
        SPECIAL = "special", "特殊监管区域"
        COUNTY = "county", "县（市、区）"
        ZONE = "zone", "功能区"
        AREA = "area", "管委会辖区"

    key = models.CharField(max_length=40, unique=True)  # code6 where official, else a slug
    code6 = models.CharField(max_length=6, blank=True, db_index=True)
    name = models.CharField(max_length=100)
    level = models.CharField(max_length=12, choices=Level.choices)
    official = models.BooleanField(default=True)  # a GB/T 2260 division
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    supervisor = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="supervised")
    carved_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="carved_areas"
    )
    note = models.TextField(blank=True)
    # The 6-digit code of the province the region lies in: HOME_PROVINCE for Jilin's, else a
    # neighbouring province outside this platform's jurisdiction.
    province_code = models.CharField("所属省份代码", max_length=6, default=HOME_PROVINCE, db_index=True)

    objects = RegionQuerySet.as_manager()

    class Meta:
        ordering = ["key"]
        verbose_name = "行政区域"
        verbose_name_plural = "行政区域"

    def __str__(self) -> str:
        return self.name

    @property
    def in_home_province(self) -> bool:
        return self.province_code == HOME_PROVINCE

    @property
    def is_authority(self) -> bool:
        """Regions that have a regulator of their own: province, prefectures, the special region."""
        return self.level in {self.Level.PROVINCE, self.Level.PREFECTURE, self.Level.SPECIAL}
