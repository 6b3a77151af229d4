"""Who a user acts for: an enterprise membership or a regulator's jurisdiction."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from weifei.catalog.models import Region
from weifei.registry.models import Enterprise


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "管理员"
        MEMBER = "member", "成员"
        DRIVER = "driver", "驾驶员"
        READER = "reader", "只读"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "enterprise"], name="uniq_membership")]
        verbose_name = "单位成员"
        verbose_name_plural = "单位成员"

    def __str__(self) -> str:
        return f"{self.user} @ {self.enterprise} ({self.role})"


class RegulatorAssignment(models.Model):
    """A regulator account bound to a jurisdiction (province, prefecture, county or special region)."""

    class Role(models.TextChoices):
        REGULATOR = "regulator", "生态环境部门"
        LIAISON = "liaison", "联络（只读）"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="regulator")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="regulators")
    department = models.CharField("部门", max_length=100)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.REGULATOR)

    class Meta:
        verbose_name = "监管账户"
        verbose_name_plural = "监管账户"

    def __str__(self) -> str:
        return f"{self.region.name} {self.department}"
