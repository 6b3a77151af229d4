"""The registry: who the units are and what they may do.

This first cut holds what the foundation needs (enterprises with their region and roles,
generation profiles, carriers' vehicles, operators' licences); the registry issue grows it
into sites, facilities, licence versions, drivers, contracts and EIA approvals.
"""

from __future__ import annotations

from django.db import models

from weifei.catalog.models import Region


class Enterprise(models.Model):
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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["credit_code"]
        verbose_name = "单位"
        verbose_name_plural = "单位"

    def __str__(self) -> str:
        return self.name


class GenerationProfile(models.Model):
    """What a generator produces in a year (the annual figure management class is computed from)."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="generation")
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


class Vehicle(models.Model):
    carrier = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="vehicles")
    plate = models.CharField("车牌号", max_length=12, unique=True)
    transport_certificate = models.CharField("道路运输证号", max_length=30)
    payload_tonnes = models.DecimalField("核定载质量（吨）", max_digits=8, decimal_places=3)
    dangerous_goods_classes = models.JSONField("危险货物类别", default=list)
    gps_terminal_id = models.CharField("卫星定位终端号", max_length=30, blank=True)
    valid_until = models.DateField("道路运输证有效期至")

    class Meta:
        ordering = ["plate"]
        verbose_name = "运输车辆"
        verbose_name_plural = "运输车辆"

    def __str__(self) -> str:
        return self.plate


class Licence(models.Model):
    """危险废物经营许可证 (first cut: one row per licence, scope as category list)."""

    class Kind(models.TextChoices):
        COMPREHENSIVE = "comprehensive", "综合经营"
        COLLECTION = "collection", "收集经营"

    holder = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="licences")
    number = models.CharField("许可证编号", max_length=40, unique=True)
    kind = models.CharField("类别", max_length=16, choices=Kind.choices)
    methods = models.JSONField("经营方式", default=list)  # collection, storage, utilization, disposal
    categories = models.JSONField("核准类别", default=list)  # ["HW08", "HW49"]
    annual_capacity_tonnes = models.DecimalField("核准经营规模（吨/年）", max_digits=14, decimal_places=3)
    valid_from = models.DateField("有效期自")
    valid_to = models.DateField("有效期至")

    class Meta:
        ordering = ["number"]
        verbose_name = "经营许可证"
        verbose_name_plural = "经营许可证"

    def __str__(self) -> str:
        return self.number
