"""The Django admin: who a person is at the provider, how they sign in, their role and why.

Accounts show their linked identities (read-only, deletable to undo a wrong link), their last
sign-in method, where their role came from and their open sessions (``accounts.sessions.admin_views``,
which also lists every session). Actions unlink, deactivate and set roles; each
ends the sessions it should (``accounts.sessions.ending``) and is recorded. Only a superuser changes
an administrator's account or makes someone an administrator.
"""

import logging

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import IntegrityError, transaction
from django.db.models import Max, Min, OuterRef, Subquery
from django.http import HttpResponseRedirect
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.timezone import localdate, localtime

from accounts.account_form import ShownValuesForm
from accounts.admin_groups import ProviderGroupsMixin
from accounts.audit import history, summaries
from accounts.models import Identity, Role, SignInEvent, User
from accounts.sessions.admin_views import UserSessionsMixin
from accounts.sessions.ending import end_sessions

logger = logging.getLogger(__name__)

ADMINS_NEED_SUPERUSER = "Only a superuser can change an administrator's account; nothing was changed."
NOT_YOURSELF = (
    "Your own account is not changed from this list; ask another administrator. Nothing was changed."
)


class EmailTaken(Exception):
    message = (
        "Another account already uses this email address as its confirmed address; "
        "nothing was changed. Reload the page and check the address."
    )


class IdentityInline(admin.TabularInline):
    """Linked identities: read-only; deleting one unlinks it and ends the sessions it signed in."""

    model = Identity
    extra = 0
    can_delete = True
    fields = readonly_fields = [
        "provider",
        "subject",
        "issuer",
        "email",
        "groups_seen",
        "created_at",
        "last_used_at",
    ]
    verbose_name = "linked identity"
    verbose_name_plural = "linked identities (tick Delete and save to unlink a wrong one)"

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="groups seen")
    def groups_seen(self, identity):
        return ", ".join(identity.groups or []) or "—"


def _latest_sign_in(field):
    successes = SignInEvent.objects.filter(user=OuterRef("pk"), outcome=SignInEvent.Outcome.SUCCESS)
    return Subquery(successes.order_by("-created_at").values(field)[:1])


def _method_label(value):
    return SignInEvent.Method(value).label if value in SignInEvent.Method.values else value


@admin.register(User)
class UserAdmin(UserSessionsMixin, ProviderGroupsMixin, BaseUserAdmin):
    form = ShownValuesForm
    list_display = ["username", "email", "role", "is_active", "providers", "last_sign_in"]
    list_filter = ["role", "identities__provider", "is_active", "groups"]
    search_fields = ["username", "email", "identities__subject"]
    ordering = ["username"]
    inlines = [IdentityInline]
    actions = ["unlink_identities", "deactivate", "set_role_viewer", "set_role_editor", "set_role_admin"]
    readonly_fields = [
        "is_staff",
        "is_superuser",
        "role_explained",
        "provider_groups",
        "last_sign_in",
        "last_login",
        "date_joined",
        "signed_in_sessions",
    ]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email", "email_confirmed")}),
        (
            "Role and access",
            {
                "fields": ("role", "role_explained", "is_active", "is_staff", "is_superuser"),
                "description": "Staff and superuser follow the role: admin has both, the other roles neither.",
            },
        ),
        ("Groups", {"fields": ("groups", "provider_groups")}),
        ("Sign-ins", {"fields": ("last_sign_in", "last_login", "date_joined")}),
        ("Where signed in", {"fields": ("signed_in_sessions",)}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "role", "usable_password", "password1", "password2"),
            },
        ),
    )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except EmailTaken:  # raised inside the admin's transaction: nothing was saved
            self.message_user(request, EmailTaken.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("identities")
            .annotate(
                last_method=_latest_sign_in("method"),
                last_provider=_latest_sign_in("provider"),
                last_at=_latest_sign_in("created_at"),
            )
        )

    # --- columns and read-only fields ---------------------------------------------------
    @admin.display(description="providers")
    def providers(self, user):
        return ", ".join(sorted({identity.provider for identity in user.identities.all()})) or "—"

    @admin.display(description="last sign-in", ordering="last_at")
    def last_sign_in(self, user):
        if not getattr(user, "last_method", None):
            return "never"
        via = f" ({user.last_provider})" if user.last_provider else ""
        return f"{_method_label(user.last_method)}{via}, {localtime(user.last_at):%Y-%m-%d %H:%M}"

    @admin.display(description="why this role")
    def role_explained(self, user):
        if user.pk is None:
            return "—"
        change = user.sign_ins.filter(method=SignInEvent.Method.ROLE).first()
        if change is None:
            lines = ["No role change in the sign-in history: the role given when the account was created."]
        else:
            when = f"{localtime(change.created_at):%Y-%m-%d %H:%M}"
            by = (
                f"the {change.provider} groups at sign-in"
                if change.reason == "provider_groups"
                else "the admin"
            )
            lines = [f"Set by {by} on {when} ({change.detail})."]
        for identity in user.identities.all():
            groups = ", ".join(identity.groups or []) or "none"
            lines.append(f"Groups seen from {identity.provider} at the last sign-in: {groups}.")
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))

    # --- who may change whom --------------------------------------------------------------
    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.role == Role.ADMIN and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.role == Role.ADMIN and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def has_superuser_permission(self, request):
        return request.user.is_superuser

    def get_actions(self, request, action_location=None):
        # Django 6.1 passes action_location; 5.2 knows no such argument.
        extra = {} if action_location is None else {"action_location": action_location}
        actions = super().get_actions(request, **extra)
        if not request.user.is_superuser:
            # Bulk delete checks no per-account permission, so it could remove an administrator.
            actions.pop("delete_selected", None)
        return actions

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role" and not request.user.is_superuser:
            kwargs["choices"] = [choice for choice in Role.choices if choice[0] != Role.ADMIN]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def _targets(self, request, queryset):
        """The accounts an action may change, or None after telling the person why not."""
        if queryset.filter(pk=request.user.pk).exists():
            self.message_user(request, NOT_YOURSELF, messages.ERROR)
            return None
        if not request.user.is_superuser and queryset.filter(role=Role.ADMIN).exists():
            self.message_user(request, ADMINS_NEED_SUPERUSER, messages.ERROR)
            return None
        return list(queryset)

    # --- saving the form --------------------------------------------------------------------
    def save_model(self, request, obj, form, change):
        if change:
            # Its identities' rows, then its own, before anything is written: the order in which a sign-in
            # and a recheck take them (OIDCBackend.sign_into, then update_user's groups), so a save that
            # unlinks an identity or changes groups meanwhile waits for them instead of deadlocking.
            list(obj.identities.select_for_update().order_by("pk").values_list("pk", flat=True))
            list(type(obj).objects.select_for_update().filter(pk=obj.pk).values_list("pk", flat=True))
            # Only what this page changed is written: a deactivation or a role change made
            # elsewhere after the page was shown stands (and the receivers of the save see the
            # account as it is, not as the page showed it).
            columns = {field.name for field in obj._meta.concrete_fields}
            changed = [name for name in form.changed_data if name in columns]
            obj.refresh_from_db(fields=[name for name in form.fields if name in columns and name not in changed])
            try:
                with transaction.atomic():
                    obj.save(update_fields=changed)
            except IntegrityError:
                # Another account confirmed the same address after this form was checked.
                logger.warning("admin: save of %r refused: its email is another account's", obj.username)
                raise EmailTaken from None
        else:
            super().save_model(request, obj, form, change)
        if change and "role" in form.changed_data:
            self._record_role(request, obj, form.initial.get("role"))

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        for identity in getattr(formset, "deleted_objects", []):
            if isinstance(identity, Identity):
                self._record_unlink(request, form.instance, identity)

    def _record_role(self, request, user, old_role):
        detail = f"{old_role} -> {user.role} by {request.user.username}"
        history.record(
            request,
            SignInEvent.Method.ROLE,
            SignInEvent.Outcome.CHANGED,
            user=user,
            reason="admin",
            detail=detail,
        )
        logger.info("admin: %r set the role of %r: %s", request.user.username, user.username, detail)

    def _record_unlink(self, request, user, identity):
        history.record(
            request,
            SignInEvent.Method.OIDC,
            SignInEvent.Outcome.CHANGED,
            user=user,
            reason="identity_unlinked",
            detail=f"by {request.user.username} in the admin",
            provider=identity.provider,
            subject=identity.subject,
        )
        logger.info("admin: %r unlinked %s from %r", request.user.username, identity, user.username)

    # --- actions ------------------------------------------------------------------------------
    @admin.action(
        description="Unlink identities of selected users (ends their sessions)", permissions=["change"]
    )
    def unlink_identities(self, request, queryset):
        users = self._targets(request, queryset)
        if users is None:
            return
        count = 0
        for user in users:
            for identity in list(user.identities.all()):
                identity.delete()
                self._record_unlink(request, user, identity)
                count += 1
            end_sessions(user)
            self.log_change(request, user, "Unlinked every identity; sessions ended.")
        self.message_user(
            request, f"Unlinked {count} identity(ies) from {len(users)} account(s); their sessions are ended."
        )

    @admin.action(description="Deactivate selected users (ends their sessions)", permissions=["change"])
    def deactivate(self, request, queryset):
        users = self._targets(request, queryset)
        if users is None:
            return
        for user in users:
            if user.is_active:
                user.is_active = False
                user.save(update_fields=["is_active"])  # the post_save receiver ends the sessions
                self.log_change(request, user, "Deactivated; sessions ended.")
                logger.info("admin: %r deactivated %r", request.user.username, user.username)
        self.message_user(request, f"Deactivated {len(users)} account(s); their sessions are ended.")

    def _set_role(self, request, queryset, role):
        users = self._targets(request, queryset)
        if users is None:
            return
        for user in users:
            if user.role == role:
                continue
            old_role, user.role = user.role, role
            user.save(update_fields=["role"])
            self._record_role(request, user, old_role)
            self.log_change(request, user, f"Role set to {role}.")
        self.message_user(request, f"{len(users)} account(s) now have the {role} role.")

    @admin.action(description="Set role: viewer", permissions=["change"])
    def set_role_viewer(self, request, queryset):
        self._set_role(request, queryset, Role.VIEWER)

    @admin.action(description="Set role: editor", permissions=["change"])
    def set_role_editor(self, request, queryset):
        self._set_role(request, queryset, Role.EDITOR)

    @admin.action(description="Set role: admin", permissions=["superuser"])
    def set_role_admin(self, request, queryset):
        self._set_role(request, queryset, Role.ADMIN)


@admin.register(SignInEvent)
class SignInEventAdmin(admin.ModelAdmin):
    """The sign-in history: read-only; only a superuser deletes rows."""

    list_display = [
        "created_at",
        "username",
        "method",
        "outcome",
        "reason",
        "provider",
        "subject",
        "ip_address",
    ]
    list_filter = ["method", "outcome", "reason", "provider", "created_at"]
    search_fields = ["username", "subject", "ip_address"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def delete_model(self, request, obj):
        self.delete_queryset(request, SignInEvent.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        """Deleted rows leave the sign-in health report too: their days are summarised again."""
        with summaries.locked():
            span = queryset.aggregate(first=Min("created_at"), last=Max("created_at"))
            queryset.delete()
            if span["first"] is not None:
                summaries.forget(localdate(span["first"]), localdate(span["last"]))
