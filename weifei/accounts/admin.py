from django.contrib import admin

from weifei.core.admin import ReadOnlyAdmin

from .models import Membership, RegulatorAssignment


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ("user", "enterprise", "role")


@admin.register(RegulatorAssignment)
class RegulatorAssignmentAdmin(ReadOnlyAdmin):
    list_display = ("user", "region", "department", "role")
