"""The admin's view of groups: which ones a provider mirrors (``OIDC_GROUPS``, docs/groups.md).

A group whose name a provider's ``OIDC_GROUPS`` matches is the provider's: every sign-in through
it sets the person's membership to what the provider says, so a change made here by hand lasts
until then. The group list says which provider manages each group, and the account page which
of the person's groups are managed so.
"""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.models import Group
from django.db.models import Count
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from accounts.oidc.groups import mirrored_by
from accounts.oidc.provider import providers

NOT_MIRRORED = "No: managed here only."
HAND_CHANGES = (
    "Membership of a mirrored group follows the provider: adding or removing someone here lasts until "
    "their next sign-in through it, which sets it back to what the provider says."
)


def mirrored_label(name):
    """"Mirrored from provider: authentik" (or several), or None for a group managed here only."""
    names = [provider.display_name for provider in mirrored_by(name, providers())]
    return f"Mirrored from provider: {', '.join(names)}" if names else None


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin):
    list_display = ["name", "mirrored", "members"]
    readonly_fields = ["mirrored"]
    fields = ["name", "mirrored", "permissions"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("user", distinct=True))

    @admin.display(description="members", ordering="member_count")
    def members(self, group):
        return group.member_count

    @admin.display(description="from the provider")
    def mirrored(self, group):
        if group.pk is None and not group.name:
            return "—"
        label = mirrored_label(group.name)
        return f"{label}. {HAND_CHANGES}" if label else NOT_MIRRORED


class ProviderGroupsMixin:
    """For the account page: which of the person's groups a provider manages."""

    @admin.display(description="groups from the provider")
    def provider_groups(self, user):
        if user.pk is None:
            return "—"
        configured = [provider for provider in providers() if provider.groups]
        if not configured:
            return "No provider mirrors groups here (OIDC_GROUPS is not set): groups are managed here only."
        lines = []
        for name in user.groups.order_by("name").values_list("name", flat=True):
            managers = mirrored_by(name, configured)
            if managers:
                lines.append(f"{name}: from {', '.join(provider.display_name for provider in managers)}")
        if not lines:
            return "None of this person's groups is mirrored from a provider."
        lines.append(HAND_CHANGES)
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))
