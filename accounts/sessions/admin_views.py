"""Sessions in the admin: every open session (the Sessions list, with "End selected sessions"), and
on a person's page their sessions with "End all sessions of this person".

A session's primary key is its key, which is as good as its password: this admin shows no change
or delete page by key and takes no filter on it from the URL, no row links to one, the checkboxes
carry each session's public id, and what the admin logs goes on the person's account, never on a
session. Sessions end as logging out
ends one (``accounts.sessions.ending.sign_out``): the row goes and the refresh token is revoked.
"""

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

from accounts.models import Session
from accounts.sessions.browsers import in_words
from accounts.sessions.ending import sign_out
from accounts.sessions.listing import PUBLIC_ID, listed, open_sessions, provider_labels, way_in

# The sign-in history's reason for a session an administrator ended.
ADMIN_ENDED = "admin_ended_session"
NOT_YOUR_OWN = "Your own session is not ended from here: use Sign out. The others are ended."


def _when(moment):
    return f"{localtime(moment):%Y-%m-%d %H:%M}" if moment else "—"


def _end(request, sessions):
    """End ``sessions`` but the administrator's own; returns how many ended per account."""
    own = sessions.filter(session_key=request.session.session_key)
    if own.exists():
        messages.warning(request, NOT_YOUR_OWN)
    ended = sign_out(request, sessions.exclude(session_key=request.session.session_key), ADMIN_ENDED,
                     f"ended by {request.user.username} in the admin")
    per_account = {}
    for row in ended:
        user, count = per_account.get(row.user_id, (row.user, 0))
        per_account[row.user_id] = (user, count + 1)
    return list(per_account.values())


def _plural(count):
    return f"{count} session{'' if count == 1 else 's'}"


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    """Every open session: who, browser and system, address, way in, started, last active."""

    list_display = ["who", "browser", "ip_address", "signed_in_with", "started", "active"]
    list_display_links = None
    list_filter = ["signin_method", "provider"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    ordering = ["-created_at"]
    actions = ["end_selected"]

    def get_queryset(self, request):
        return open_sessions()

    def lookup_allowed(self, lookup, value, request=None):
        # Only the list's own filters. Django also takes any lookup on a column of the row from
        # the URL (?session_key__startswith=ab), and the list's count would then tell a right
        # guess at a key from a wrong one, letter by letter; the answer is Django's 400.
        if lookup == "user__id__exact":  # one person's sessions (the link from their page)
            return True
        field, _, how = lookup.partition("__")
        return field in self.list_filter and how in ("exact", "isnull")

    def get_urls(self):
        # The list only: Django's other pages of a model are addressed by its key.
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.changelist_view), name=name)]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_actions(self, request, action_location=None):
        # Django 6.1 passes action_location; 5.2 knows no such argument.
        extra = {} if action_location is None else {"action_location": action_location}
        actions = super().get_actions(request, **extra)
        actions.pop("delete_selected", None)  # would log each deleted session's key
        return actions

    @admin.display(description="")
    def action_checkbox(self, session):
        """The row's checkbox, carrying the session's public id (Django's carries the primary key)."""
        checkbox = forms.CheckboxInput({"class": "action-select", "aria-label": "Select this session"},
                                       lambda value: False)
        return checkbox.render(helpers.ACTION_CHECKBOX_NAME, session.public_id)

    def response_action(self, request, queryset, action_location=None):
        """Run the chosen action on the sessions whose public ids were ticked (Django's own
        selects by primary key, which this list never shows). Django 6.1 passes action_location."""
        actions = self.get_actions(request, action_location)
        try:
            index = int(request.POST.get("index", 0))
        except ValueError:
            index = 0
        chosen = request.POST.getlist("action")
        name = chosen[index] if 0 <= index < len(chosen) else None
        if name not in actions:
            self.message_user(request, "No action selected.", messages.WARNING)
            return None
        if request.POST.get("select_across") != "1":
            ticked = [value for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME) if PUBLIC_ID.fullmatch(value)]
            queryset = queryset.filter(public_id__in=ticked)
        action = actions[name]
        run = getattr(action, "func", None) or action[0]  # Django 6.1's Action, or 5.2's tuple
        response = run(self, request, queryset)
        return response or HttpResponseRedirect(request.get_full_path())

    @admin.action(description="End selected sessions", permissions=["delete"])
    def end_selected(self, request, queryset):
        ended = _end(request, queryset)
        for user, count in ended:
            self.log_change(request, user, f"Ended {_plural(count)} from the sessions list.")
        self.message_user(request, f"Ended {_plural(sum(count for _, count in ended))}; "
                                   "each is signed out at its next request.")

    @admin.display(description="who", ordering="user__username")
    def who(self, session):
        return session.user.username

    @admin.display(description="browser")
    def browser(self, session):
        return in_words(session.user_agent)

    @admin.display(description="signed in with", ordering="provider")
    def signed_in_with(self, session):
        return way_in(session, provider_labels())

    @admin.display(description="started", ordering="created_at")
    def started(self, session):
        return _when(session.created_at)

    @admin.display(description="last active", ordering="last_active")
    def active(self, session):
        return _when(session.last_active)


class UserSessionsMixin:
    """For the person's admin page: their open sessions, and "End all sessions of this person"."""

    def get_urls(self):
        end_all = path("<path:object_id>/end-sessions/", self.admin_site.admin_view(self.end_sessions_view),
                       name=f"{self.opts.app_label}_{self.opts.model_name}_end_sessions")
        return [end_all, *super().get_urls()]

    @admin.display(description="open sessions")
    def signed_in_sessions(self, user):
        if user.pk is None:
            return "—"
        sessions, more = listed(open_sessions(user))
        if not sessions:
            return "None."
        unlisted = format_html(
            '<p>And {} older session{}, not listed here: <a href="{}?{}">all of them in Sessions</a>.</p>',
            more, "" if more == 1 else "s", reverse("admin:accounts_session_changelist"),
            urlencode({"user__id__exact": user.pk}),
        ) if more else ""
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((s.browser, s.address or "—", s.way_in, _when(s.started), _when(s.last_active)) for s in sessions),
        )
        return format_html(
            '<table><tr><th>browser</th><th>address</th><th>signed in with</th><th>started</th>'
            '<th>last active</th></tr>{}</table>{}<p><a class="button" href="{}">End all sessions of this '
            "person</a></p>",
            rows, unlisted, reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_end_sessions", args=[user.pk]),
        )

    def end_sessions_view(self, request, object_id):
        """GET asks for confirmation; POST ends every open session of the person (but one's own)."""
        user = self.get_object(request, unquote(object_id))
        if user is None:
            raise Http404("No such account.")
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        sessions = open_sessions(user)
        change_page = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[user.pk])
        if request.method == "POST":
            count = sum(count for _, count in _end(request, sessions))
            self.log_change(request, user, f"Ended {_plural(count)}.")
            self.message_user(request, f"Ended {_plural(count)} of {user.username}; "
                                       "each is signed out at its next request.")
            return HttpResponseRedirect(change_page)
        shown, more = listed(sessions, request.session.session_key)
        context = {
            **self.admin_site.each_context(request),
            "title": f"End all sessions of {user.username}?",
            "opts": self.opts,
            "person": user,
            "sessions": shown,
            "open_count": len(shown) + more,
            "more_sessions": more,
            "change_page": change_page,
        }
        return TemplateResponse(request, "admin/accounts/user/end_sessions.html", context)
