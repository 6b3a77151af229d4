from django.contrib import admin

from weifei.core.admin import ReadOnlyAdmin

from .models import CatalogueVersion, Category, CodeMapping, DisposalMethod, ExemptionItem, Region, WasteCode


@admin.register(CatalogueVersion)
class CatalogueVersionAdmin(ReadOnlyAdmin):
    list_display = ("key", "name", "effective_from")


@admin.register(Category)
class CategoryAdmin(ReadOnlyAdmin):
    list_display = ("version", "code", "name")
    list_filter = ("version",)


@admin.register(WasteCode)
class WasteCodeAdmin(ReadOnlyAdmin):
    list_display = ("code", "version", "category", "industry_source", "hazard_raw")
    list_filter = ("version", "category__code")
    search_fields = ("code", "description", "industry_source")


@admin.register(CodeMapping)
class CodeMappingAdmin(ReadOnlyAdmin):
    list_display = ("from_version", "from_code", "to_version", "to_code", "relation")


@admin.register(ExemptionItem)
class ExemptionItemAdmin(ReadOnlyAdmin):
    list_display = ("seq", "category_or_code", "stage")
    list_filter = ("stage",)


@admin.register(DisposalMethod)
class DisposalMethodAdmin(ReadOnlyAdmin):
    list_display = ("code", "kind", "name", "provisional")


@admin.register(Region)
class RegionAdmin(ReadOnlyAdmin):
    list_display = ("key", "name", "level", "parent", "supervisor", "official")
    list_filter = ("level", "official")
    search_fields = ("key", "name")
