"""Opening a session for a person whose credentials were accepted, in one transaction.

``complete_sign_in`` finishes a provider's callback: the backend checks the provider's answer
(its HTTP calls, before any transaction), then one transaction decides the account
(``auth.authenticate``) and opens the session (``sign_in``). The password form, /api/login and
the break-glass link open theirs with ``sign_in`` too (``accounts.local.passwords.open_session``).

``sign_in`` writes, in order: the account's last_login, only while the account is still active
(a deactivation committed meanwhile refuses the sign-in), Django's login (a new session key),
the facts of the sign-in in the session (``accounts.sessions.engine`` writes them as columns too)
and the history row. ``signing_in`` is the transaction around it all: a refusal or a crash rolls
everything back and gives the request the session it came with, so the browser stays as it was.
"""

import logging
from contextlib import contextmanager

from django.contrib import auth
from django.contrib.sessions.backends.base import UpdateError
from django.db import transaction
from django.utils import timezone

from accounts.audit import history
from accounts.errors import SignInError
from accounts.models import SignInEvent, User
from accounts.oidc import recheck
from accounts.oidc.backend import OIDCBackend
from accounts.oidc.flows import nonce, verifier
from accounts.sessions.engine import SIGNIN

logger = logging.getLogger(__name__)

OIDC_BACKEND = "accounts.oidc.backend.OIDCBackend"
PASSWORD_BACKEND = "accounts.oidc.backend.PasswordBackend"


def complete_sign_in(request, provider, flow, code):
    """Sign the person ``provider`` vouches for into this browser; returns the account.

    Raises ``SignInError`` when refused, with the browser's session as it was.
    """
    oidc_login = OIDCBackend(provider).verify(code, nonce(flow["state"], flow.get("key", 0)),
                                              verifier(flow["state"], flow.get("key", 0)))
    with signing_in(request, oidc_login.provider_ms):
        user = auth.authenticate(request, oidc_login=oidc_login)
        if user is None:
            raise SignInError("bad_response", "no account returned")
        facts = {
            "provider": provider.name,
            "issuer": oidc_login.issuer,
            "subject": oidc_login.subject,
            "sid": str(oidc_login.sid or "")[:255],
            # With OIDC_SESSION_RECHECK_SECONDS: the refresh token, encrypted, and the first check.
            **recheck.started(provider, user, oidc_login.refresh_token),
        }
        # Kept in the session's row only, and only when RP-initiated logout needs it.
        id_token = oidc_login.id_token if provider.rp_initiated_logout else ""
        sign_in(request, user, SignInEvent.Method.OIDC, OIDC_BACKEND, facts, id_token,
                provider=provider.name, subject=oidc_login.subject, provider_ms=oidc_login.provider_ms)
    logger.info("OIDC sign-in: account %r via %s (sub %s)", user.username, provider.name, oidc_login.subject)
    return user


@contextmanager
def signing_in(request, provider_ms=None):
    """The sign-in's one transaction. On any exception inside, what it wrote rolls back and the
    request gets back the session and account it came with (Django's login replaced both).

    ``provider_ms``: how long the provider took to answer the token request, which a refusal's
    history row records too."""
    session_key, user = request.session.session_key, getattr(request, "user", None)
    try:
        with transaction.atomic():
            yield
    except BaseException as error:
        request.session = request.session.__class__(session_key)
        request.user = user
        if isinstance(error, SignInError) and error.provider_ms is None:
            error.provider_ms = provider_ms
        raise


def sign_in(request, user, method, backend, facts=None, id_token="", **event):
    """Sign ``user`` in on this browser, inside ``signing_in``.

    ``facts`` and ``id_token``: what the session records about a provider's sign-in; ``event``:
    the history row's provider, subject and provider_ms. Raises ``SignInError("inactive")`` for an account deactivated
    since its credentials were checked.
    """
    now = timezone.now()
    # Only on an account still active: a deactivation committed after the credentials were
    # checked (on PostgreSQL this statement waits for one in progress, then sees it) ended the
    # account's sessions before this one existed, so the sign-in ends here.
    if not User.objects.filter(pk=user.pk, is_active=True).update(last_login=now):
        raise SignInError("inactive", f"account {user.username!r} was deactivated during the sign-in")
    user.last_login = now
    auth.login(request, user, backend=backend)
    request.session[SIGNIN] = {
        "method": method,
        **(facts or {}),
        "created": now.timestamp(),
        "ip_address": history.client_address(request),
        "user_agent": history.user_agent(request),
    }
    request.session.id_token = id_token
    try:
        request.session.save()
    except UpdateError:
        # Signing in again in a signed-in session (same account: the key stays) while a logout
        # (back-channel, another tab) ended that session: refused, not a 500.
        raise SignInError("conflict", "the session ended while this sign-in wrote it") from None
    history.record(request, method, SignInEvent.Outcome.SUCCESS, user=user, **event)
