"""Ending an account's sessions when an administrator takes its access away.

``end_sessions(user)`` deletes every Django session of the account, found through the
``OIDCSession`` index, which records every login (provider sessions with their issuer,
subject and sid; password, API and break-glass sessions with those left empty). A changed
password also ends sessions through Django's session auth hash.

The receivers make that hold wherever the change is made (admin form, action, shell):
saving an inactive account or deleting one ends its sessions, and deleting an identity
ends the sessions it signed in.
"""

import logging
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.db import connections, router
from django.utils import timezone

from accounts.errors import SignInError
from accounts.models import ApiToken, OIDCSession
from accounts.signals import access_withdrawn
from romm_site import rows

logger = logging.getLogger(__name__)


def end_session_keys(session_keys):
    """Delete these Django sessions (whatever the session engine) and their index rows."""
    keys = [key for key in session_keys if key]
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in keys:
        store(session_key=key).delete()
    OIDCSession.objects.filter(session_key__in=keys).delete()
    return len(keys)


def index_session(session_key, user, **fields):
    """Create or update the index row of this session, in one statement.

    ``fields``: what a provider session records (provider, issuer, subject, sid, the ID token
    for RP-initiated logout, the recheck's refresh token); none for password, API and
    break-glass sessions. A second tab finishing as the same person keeps the key: its row
    is updated. Nothing listens for these rows, so ``romm_site.rows`` writes them.
    """
    rows.insert(OIDCSession, {"session_key": session_key, "user": user.pk, **fields}, update_on_conflict="session_key")


def commit_without_flush_wait(model):
    """Inside a write transaction: on PostgreSQL, its commit returns before the WAL reaches disk.

    Used for a sign-in's one transaction (the session, its index row, the history row, the
    identity). A database crash within about 0.6 s of the commit may lose that sign-in, whole
    and never in part (no session without its history row), and the person signs in again;
    the same durability the SQLite default has (WAL with synchronous=NORMAL). It saves waiting
    for a disk flush on every sign-in.
    """
    connection = connections[router.db_for_write(model)]
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def forget_session(session_key):
    """A session that ended here (logout) leaves the index."""
    if session_key:
        OIDCSession.objects.filter(session_key=session_key).delete()


def session_key_changed(old_key, new_key):
    """Django issued a new key for a live session (login, password change): the index follows.

    With ``new_key`` None, only asks whether ``old_key`` is still indexed (a live session).
    """
    if not old_key:
        return False
    if new_key is None:
        return OIDCSession.objects.filter(session_key=old_key).exists()
    return bool(OIDCSession.objects.filter(session_key=old_key).update(session_key=new_key))


def end_sessions(user):
    """Delete the user's OIDC sessions here; returns how many were ended."""
    keys = list(OIDCSession.objects.filter(user=user).values_list("session_key", flat=True))
    if keys:
        logger.info("ended %d session(s) of account %r", len(keys), user.username)
    return end_session_keys(keys)


def end_identity_sessions(identity):
    """Delete the sessions this identity signed in; returns how many were ended."""
    sessions = OIDCSession.objects.filter(issuer=identity.issuer, subject=identity.subject)
    return end_session_keys(list(sessions.values_list("session_key", flat=True)))


def user_saved(sender, instance, **kwargs):
    """An account saved as inactive keeps no session and no token, even once reactivated."""
    if kwargs.get("raw") or instance.is_active:
        return
    end_sessions(instance)
    access_withdrawn.send(sender=sender, user=instance, reason="deactivated")


def revoke_api_tokens(sender, user, reason, **kwargs):
    """Access taken away (``accounts.signals.access_withdrawn``): the password-grant tokens stop."""
    ApiToken.objects.filter(user=user, revoked=False).update(revoked=True)


def session_started(sender, request, user, **kwargs):
    """Index every new session (password, API, break-glass, OIDC) so it can be ended later,
    and stamp the account's last_login.

    The stamp replaces Django's own ``update_last_login`` receiver, which saves the account
    through its signals; the receivers of those act on deactivated accounts only, and an
    account that signs in is active.
    """
    if user is not None and user.pk:
        user.last_login = timezone.now()
        # Only on an account still active: a deactivation committed after the sign-in's checks
        # (on PostgreSQL this statement waits for one in progress, then sees it) gets no session
        # that end_sessions, which ran before this session was indexed, could not find.
        if not rows.update(type(user), user.pk, {"last_login": user.last_login}, is_active=True):
            raise SignInError("inactive", f"account {user.username!r} was deactivated during the sign-in")
    session = getattr(request, "session", None)
    if session is None or user is None:
        return
    # How the session was opened decides later what it may do (accounts.access.check_session).
    backend = session.get(BACKEND_SESSION_KEY) or getattr(user, "backend", "") or ""
    session["signin_method"] = "oidc" if backend.endswith("OIDCBackend") else "password"
    if session.session_key is None:
        session.save()
    # A provider sign-in adds what its row records (accounts.views.start_session says what).
    fields = getattr(request, "session_index_fields", None)
    index_session(session.session_key, user, **(fields() if fields else {}))


def session_ended(sender, request, user, **kwargs):
    """A logged-out session leaves the index."""
    session = getattr(request, "session", None)
    if session is not None:
        forget_session(session.session_key)


def user_deleting(sender, instance, **kwargs):
    """A deleted account's sessions go first, while the index still finds them."""
    end_sessions(instance)


def identity_deleted(sender, instance, **kwargs):
    """An unlinked identity's sessions end with it."""
    end_identity_sessions(instance)
