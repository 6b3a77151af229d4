from django.contrib import admin

from weifei.core.admin import ReadOnlyAdmin

from .models import (
    ApiToken,
    IdempotencyRecord,
    Invitation,
    LoginThrottle,
    Membership,
    RegulatorAssignment,
    TotpDevice,
)


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ("user", "enterprise", "role")


@admin.register(RegulatorAssignment)
class RegulatorAssignmentAdmin(ReadOnlyAdmin):
    list_display = ("user", "region", "department", "role")


@admin.register(TotpDevice)
class TotpDeviceAdmin(ReadOnlyAdmin):
    list_display = ("user", "created_at", "confirmed_at", "last_used_at")
    exclude = ("secret_sealed",)


@admin.register(LoginThrottle)
class LoginThrottleAdmin(ReadOnlyAdmin):
    list_display = ("username", "failures", "window_started_at", "locked_until")
    search_fields = ("username",)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ("name", "prefix", "user", "organisation", "created_at", "expires_at", "revoked_at", "last_used_at")
    exclude = ("hash",)


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ("owner", "key", "method", "path", "status_code", "created_at")
    exclude = ("response_body",)


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ("enterprise", "role", "hint", "created_by", "created_at", "expires_at", "accepted_at", "revoked_at")
    exclude = ("token_hash",)
