from django.contrib import admin

from weifei.core.admin import ReadOnlyAdmin

from .models import Enterprise, GenerationProfile, Licence, Vehicle


@admin.register(Enterprise)
class EnterpriseAdmin(ReadOnlyAdmin):
    list_display = ("credit_code", "name", "region", "industry_name", "is_generator", "is_carrier", "is_operator")
    list_filter = ("is_generator", "is_carrier", "is_operator", "is_collector")
    search_fields = ("credit_code", "name")


@admin.register(GenerationProfile)
class GenerationProfileAdmin(ReadOnlyAdmin):
    list_display = ("enterprise", "year", "waste_code", "annual_tonnes")


@admin.register(Vehicle)
class VehicleAdmin(ReadOnlyAdmin):
    list_display = ("plate", "carrier", "payload_tonnes", "valid_until")
    search_fields = ("plate",)


@admin.register(Licence)
class LicenceAdmin(ReadOnlyAdmin):
    list_display = ("number", "holder", "kind", "valid_from", "valid_to")
    search_fields = ("number",)
