"""A person's open sessions as people read them: browser and system, address, way in, when.

``/profile/sessions`` (``accounts.sessions.page``) and the admin (``accounts.sessions.admin_views``)
show the same words. A session is named by its ``public_id`` (an HMAC of its key,
``accounts.sessions.engine``): the key is the session's password and never appears on a page.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Paginator
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Session, SignInEvent
from accounts.oidc.provider import providers
from accounts.sessions.browsers import in_words

# Sessions a page lists: this browser's and the most recently active (the person's page has
# the rest on further pages). A script that signs in with a password every few minutes leaves
# thousands; "Sign out everywhere else" ends them all.
SHOWN = 50
# What a list needs of a session row: not its data or tokens.
UNREAD = ("session_data", "id_token", "refresh_token")
# What a public id looks like (``accounts.sessions.engine.public_id``); anything else names no session.
PUBLIC_ID = re.compile(r"[0-9a-f]{32}")
WAYS_IN = {
    SignInEvent.Method.PASSWORD: "Password",
    SignInEvent.Method.API: "Password, from an app (/api/login)",
    SignInEvent.Method.LINK: "Sign-in link",
}


def open_sessions(user=None):
    """The signed-in sessions that have not expired (of ``user``, when given)."""
    sessions = Session.objects.signed_in().filter(expire_date__gt=timezone.now())
    return sessions if user is None else sessions.filter(user=user)


def way_in(row, labels=None):
    """How the session was opened, in words: the provider's name, "Password", "Sign-in link" …"""
    method = row.signin_method or (SignInEvent.Method.OIDC if row.issuer else "")
    if method == SignInEvent.Method.OIDC:
        if labels is None:
            labels = provider_labels()
        return labels.get(row.provider) or row.provider or "OpenID Connect"
    if method in WAYS_IN:
        return WAYS_IN[method]
    return SignInEvent.Method(method).label if method in SignInEvent.Method.values else "Unknown"


def provider_labels():
    """Each configured provider's name as its sign-in button shows it (``authentik`` → "Authentik")."""
    return {provider.name: provider.display_name for provider in providers()}


@dataclass(frozen=True)
class OpenSession:
    """One session as a page shows it."""

    public_id: str
    browser: str
    address: str
    way_in: str
    started: datetime | None
    last_active: datetime | None
    this_browser: bool


def _most_recent_first(sessions):
    return sessions.defer(*UNREAD).order_by(Coalesce("last_active", "created_at").desc(nulls_last=True), "-pk")


def page_of(sessions, current_key, number):
    """One page of a person's sessions (a queryset), as ``described``, and the page: this
    browser's first on every page, then the others, most recently active first, ``SHOWN`` a page."""
    others = sessions.exclude(session_key=current_key) if current_key else sessions
    page = Paginator(_most_recent_first(others), SHOWN).get_page(number)
    current = list(sessions.defer(*UNREAD).filter(session_key=current_key)) if current_key else []
    return described([*current, *page.object_list], current_key), page


def listed(sessions, current_key=None):
    """The sessions (a queryset) a page lists, as ``described``, and how many more there are:
    this browser's, then the most recently active, ``SHOWN`` in all."""
    limit = SHOWN
    sessions = sessions.defer(*UNREAD)
    rows = list(_most_recent_first(sessions)[:limit])
    if current_key is not None and all(row.session_key != current_key for row in rows):
        current = list(sessions.filter(session_key=current_key))
        if current:
            rows = rows[: limit - 1] + current
    # Counted after the rows: sessions ended meanwhile (another tab) make it smaller, never negative.
    more = max(0, sessions.count() - len(rows)) if len(rows) >= limit else 0
    return described(rows, current_key), more


def described(rows, current_key=None):
    """The rows as ``OpenSession``s: this browser's first, then the most recently active."""
    labels = provider_labels()
    shown = [
        OpenSession(
            public_id=row.public_id,
            browser=in_words(row.user_agent),
            address=row.ip_address or "",
            way_in=way_in(row, labels),
            started=row.created_at,
            last_active=row.last_active,
            this_browser=current_key is not None and row.session_key == current_key,
        )
        for row in rows
    ]
    return sorted(shown, key=lambda session: (not session.this_browser, -_recency(session)))


def _recency(session):
    moment = session.last_active or session.started
    return moment.timestamp() if moment else float("-inf")
