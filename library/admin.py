"""The library in the Django admin: platforms with the groups that may see them, and ROMs.

Only administrators reach the admin (staff follows the admin role, ``accounts.models.User``),
and they see every platform; the querysets still go through ``library/visibility.py`` so an
account made staff by other means sees no more than its groups allow.
"""

from django.contrib import admin
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth.models import Group
from django.db.models import Q

from library.models import Platform, Rom
from library.visibility import visible_platforms, visible_roms

WHO_SEES_IT = (
    "Who sees it",
    {
        "fields": ("groups",),
        "description": "For anyone outside the chosen groups (administrators aside) this "
        "platform and its ROMs are not there at all: not listed, not counted, not found.",
    },
)


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "seen_by"]
    list_filter = ["groups"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    empty_value_display = "Everyone"  # the group filter's choice for platforms with no group
    fieldsets = ((None, {"fields": ("name", "slug")}),)

    # Platform.groups has its own through model (library.models.PlatformGroup), and the admin's
    # checks refuse such a field in fieldsets and filter_horizontal (admin.E013) because the
    # admin's default form leaves it out. The two methods below put it back: the fieldset is
    # added when the form is built, and the field is the same two-box picker filter_horizontal
    # gives. The form saves it with Platform.groups.set() (save_related), which a through model
    # with no fields of its own allows.
    def get_fieldsets(self, request, obj=None):
        return [*super().get_fieldsets(request, obj), WHO_SEES_IT]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups":
            return db_field.formfield(
                queryset=Group.objects.order_by("name"),
                widget=FilteredSelectMultiple(db_field.verbose_name, is_stacked=False),
                **kwargs,
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_queryset(self, request):
        return visible_platforms(request.user).prefetch_related("groups")

    @admin.display(description="seen by")
    def seen_by(self, platform):
        """The groups that see the platform, or "Everyone" when it is not restricted."""
        return ", ".join(sorted(group.name for group in platform.groups.all())) or "Everyone"


class VisiblePlatformFilter(admin.RelatedFieldListFilter):
    """The platform filter offers only the platforms the person may see."""

    def field_choices(self, field, request, model_admin):
        visible = Q(pk__in=visible_platforms(request.user).values("pk"))
        return field.get_choices(include_blank=False, limit_choices_to=visible, ordering=("name",))


@admin.register(Rom)
class RomAdmin(admin.ModelAdmin):
    list_display = ["name", "platform", "file_name", "size_bytes", "updated_at"]
    list_filter = [("platform", VisiblePlatformFilter)]
    search_fields = ["name", "file_name"]
    list_select_related = ["platform"]
    readonly_fields = ["created_at", "updated_at"]

    def get_queryset(self, request):
        return visible_roms(request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "platform":
            kwargs["queryset"] = visible_platforms(request.user).order_by("name", "pk")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
