"""The admin's view of apps and devices: every token with owner, scopes and last use; revoke."""

import logging

from django.contrib import admin, messages

from devices.models import ClientToken, Device, DeviceAuthorization

logger = logging.getLogger(__name__)


class ReadOnly(admin.ModelAdmin):
    """Rows made by people and apps, not typed in the admin (a token hash is useless to edit)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ClientToken)
class ClientTokenAdmin(ReadOnly):
    list_display = [
        "name",
        "user",
        "scope_list",
        "device",
        "created_at",
        "expires_at",
        "last_used_at",
        "tied_to_password",
        "minted_by",
        "revoked",
    ]
    list_filter = ["revoked"]
    search_fields = ["name", "user__username", "user__email"]
    exclude = ["token_hash", "password_fingerprint"]
    actions = ["revoke"]

    @admin.display(description="scopes")
    def scope_list(self, token):
        return " ".join(token.scopes)

    @admin.display(description="stops when the password changes", boolean=True)
    def tied_to_password(self, token):
        return bool(token.password_fingerprint)

    @admin.action(description="Revoke selected tokens", permissions=["delete"])
    def revoke(self, request, queryset):
        ids = list(queryset.filter(revoked=False).values_list("pk", flat=True))
        ClientToken.objects.filter(pk__in=ids).update(revoked=True)
        logger.info("admin: %r revoked client tokens %s", request.user.username, ids)
        self.message_user(request, f"Revoked {len(ids)} token(s).", messages.SUCCESS)


@admin.register(Device)
class DeviceAdmin(ReadOnly):
    list_display = ["name", "user", "client", "platform", "client_version", "created_at", "last_seen_at"]
    search_fields = ["name", "client", "user__username"]

    def delete_model(self, request, obj):
        ClientToken.objects.filter(device=obj, revoked=False).update(revoked=True)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        ClientToken.objects.filter(device__in=queryset, revoked=False).update(revoked=True)
        super().delete_queryset(request, queryset)


@admin.register(DeviceAuthorization)
class DeviceAuthorizationAdmin(ReadOnly):
    list_display = [
        "user_code",
        "name",
        "client",
        "status",
        "user",
        "created_at",
        "expires_at",
        "redeemed_at",
    ]
    list_filter = ["status"]
    exclude = ["device_code_hash", "password_fingerprint"]
