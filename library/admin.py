from django.contrib import admin

from library.models import Platform, Rom


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Rom)
class RomAdmin(admin.ModelAdmin):
    list_display = ["name", "platform", "file_name", "size_bytes", "updated_at"]
    list_filter = ["platform"]
    search_fields = ["name", "file_name"]
    list_select_related = ["platform"]
    readonly_fields = ["created_at", "updated_at"]
