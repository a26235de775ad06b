"""Sessions that follow the provider: the refresh-token recheck, run before the view.

With ``OIDC_SESSION_RECHECK_SECONDS`` on, a session from a provider keeps the provider's refresh
token (encrypted) and its next-due time among its sign-in's facts (``accounts.sessions.engine``),
so a page that needs no recheck pays nothing. A request after that time spends the refresh token,
validates the new ID token as a login would, and applies the role rules again; a refused refresh
ends the session, an unreachable provider is retried with back-off for the grace period.

One refresh per session at a time, across processes: a lock in the shared cache. A request that
finds it held waits briefly for the other's result, else goes on without refreshing, so a rotated
refresh token is never presented twice. The request that refreshed saves the session at once;
one that waited takes the facts it saved.
"""

import hashlib
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.backends.base import UpdateError
from django.core.cache import cache
from django.utils import timezone

from accounts.audit import history
from accounts.errors import SignInError
from accounts.models import Identity, Session, SignInEvent
from accounts.oidc import app_recheck, idtoken, refresh_chain, sealed
from accounts.oidc import client as provider_client
from accounts.oidc.backend import OIDCBackend
from accounts.oidc.provider import get_provider
from accounts.oidc.roles import resolve_role
from accounts.sessions.engine import SIGNIN, facts_of, when

logger = logging.getLogger(__name__)

# How long a request waits for another request of its session to finish refreshing.
LOCK_WAIT_SECONDS = 2
# The first retry after a failed refresh; each further failure doubles it, up to the interval.
BACKOFF_FIRST_SECONDS = 5
# The provider could not be asked: keep the session (for the grace period) and retry.
OUTAGE = {"provider_unreachable", "provider_timeout", "provider_tls", "discovery_invalid"}

# accounts.api.access.SESSION_REFUSALS merges these: one sentence per way a recheck ends a session.
REFUSALS = {
    "provider_ended": (
        "The identity provider no longer confirms your sign-in (your account there may have been "
        "deactivated or removed, or this site's access to it revoked or expired), so your session here "
        "has ended. Sign in again to continue."
    ),
    "recheck_client": (
        "Your session has ended because the identity provider refused this site's client credentials "
        "when it checked your sign-in. This is a configuration problem: the administrator should check "
        "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (and the client's token endpoint authentication method)."
    ),
    "recheck_no_role": (
        "Your groups at the identity provider no longer give you access to this site, so your session "
        "has ended. Ask your administrator to add you to one of the groups that grant a role here."
    ),
    "recheck_invalid": (
        "The identity provider's answer did not pass validation when this site checked your sign-in, "
        "so your session has ended. Sign in again; if it keeps happening, the administrator should "
        "look at the server log."
    ),
    "recheck_unreachable": (
        "The identity provider could not be reached to confirm your sign-in for longer than this site "
        "allows (OIDC_SESSION_RECHECK_GRACE_SECONDS), so your session has ended. Sign in again once "
        "the provider is back."
    ),
    "recheck_unavailable": (
        "This site confirms your sign-in with the identity provider regularly, and the provider gave it "
        "no refresh token to do that, so your session has ended. Sign in again; the administrator should "
        "allow the offline_access scope for this site at the provider."
    ),
    "recheck_email_domain": (
        "Your email address at the identity provider is no longer a verified address in a domain this site "
        "accepts (OIDC_ALLOWED_EMAIL_DOMAINS), so your session has ended. Ask your administrator if you "
        "should still have access."
    ),
    "session_gone": "Your session here has ended. Sign in again to continue.",
}
# What a refused refresh (a SignInError reason) means for the session.
REFUSED = {"code_rejected": "provider_ended", "client_rejected": "recheck_client", "no_role": "recheck_no_role",
           "email_domain": "recheck_email_domain", "email_domain_unproven": "recheck_email_domain"}
# Endings that reach the person's app tokens too (accounts.oidc.app_recheck.session_ended).
REACH_APP_TOKENS = ("recheck_no_role", "provider_ended", "recheck_email_domain")


# --- at sign-in ----------------------------------------------------------------------------
def started(provider, user, refresh_token):
    """A sign-in through ``provider``: the session facts that schedule its first check."""
    if not provider.session_recheck_seconds:
        # The provider is among the facts even with the recheck off: turning it on later (or
        # removing the provider) then reaches this session too; a page pays nothing for it.
        return {"refresh_token": "", "recheck_due": None}
    if not refresh_token:
        logger.warning(
            "session recheck: %s issued no refresh token (offline_access not granted); the session of "
            "account %r ends at its first check", provider.name, user.username,
        )
    due = timezone.now() + timedelta(seconds=provider.session_recheck_seconds)
    return {"refresh_token": sealed.seal(refresh_token or ""), "recheck_due": due.timestamp(),
            "recheck_failing_since": None, "recheck_failures": 0}


def _store(request, facts):
    """Save the session with these facts now; False when it was ended meanwhile."""
    request.session[SIGNIN] = facts
    try:
        request.session.save()
    except UpdateError:
        return False
    return True


# --- before every view ------------------------------------------------------------------------
def check(request):
    """The ``REFUSALS`` key that ends this session now, or None; only a due session costs anything."""
    facts = facts_of(request.session)
    if not facts.get("provider"):
        return None  # not a provider's session
    due = facts.get("recheck_due")
    if due is not None and time.time() < due:
        return None
    provider = get_provider(facts["provider"])
    if provider is None:
        # The provider this session came from was removed from the configuration.
        logger.warning("session of %r ended: provider %r is no longer configured", request.user.username,
                       facts["provider"])
        return _gone(request, str(facts["provider"]), "the provider is no longer configured")
    if not provider.session_recheck_seconds:
        if due is not None:  # the recheck was turned off since this sign-in
            request.session[SIGNIN] = {**facts, "recheck_due": None}
        return None
    try:
        # Discovery before the lock, so the lock only has to outlast the token request.
        provider.metadata()
    except SignInError:
        pass  # the refresh below meets it again and counts it as an outage
    lock = "oidc:recheck-lock:" + hashlib.sha256(request.session.session_key.encode()).hexdigest()
    if not _acquire(lock):
        logger.info("session recheck of %r skipped: another request of the session holds the lock",
                    request.user.username)
        return None
    try:
        row = Session.objects.filter(session_key=request.session.session_key).first()
        if row is None:
            return _gone(request, provider.name, "the session is no longer indexed")
        now = timezone.now()
        if row.recheck_due_at is not None and row.recheck_due_at > now:
            # Another request of this session refreshed while this one waited: take its result.
            request.session[SIGNIN] = facts_of(row.get_decoded())
            request.user.refresh_from_db()
            return None
        return _refresh(request, provider, facts_of(row.get_decoded()), now)
    finally:
        cache.delete(lock)


def _acquire(lock):
    """Take the session's lock, waiting briefly while another request holds it."""
    deadline = time.monotonic() + min(LOCK_WAIT_SECONDS, settings.OIDC_TIMEOUT)
    # Held a bit longer than the one provider call it guards can take.
    while not cache.add(lock, 1, settings.OIDC_TIMEOUT + 5):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _refresh(request, provider, facts, now):
    username = request.user.username
    token = sealed.unseal(facts.get("refresh_token"))
    if token is None:
        logger.warning("session recheck of %r at %s: no refresh token stored (offline_access not granted, "
                       "or SECRET_KEY changed)", username, provider.name)
        return _ended(request, provider, facts, "recheck_unavailable", "no refresh token stored")
    issuer, subject = facts.get("issuer", ""), facts.get("subject", "")
    # The same chain may be kept for app tokens too (accounts.oidc.refresh_chain): spend its newest token.
    token = refresh_chain.session_token(issuer, subject, token)
    if token is refresh_chain.BUSY:
        return None
    try:
        tokens = provider_client.refresh(provider, token)
    except SignInError as error:
        refresh_chain.session_failed(issuer, subject, token)
        return _failed(request, provider, facts, now, error)
    # At once: the rotated token is the only one the provider still honours.
    due = now + timedelta(seconds=provider.session_recheck_seconds)
    facts = {**facts, "refresh_token": sealed.seal(tokens.get("refresh_token") or token),
             "recheck_due": due.timestamp(), "recheck_failing_since": None, "recheck_failures": 0}
    if not _store(request, facts):
        return "session_gone"
    refresh_chain.session_refreshed(issuer, subject, token, tokens.get("refresh_token") or token, due)
    try:
        _apply(request, provider, facts, tokens)
    except SignInError as error:
        reason = _failed(request, provider, facts, now, error)
        if reason is not None:
            revoke_quietly(provider, tokens.get("refresh_token") or token)
        return reason
    logger.debug("session recheck of %r at %s: confirmed", username, provider.name)
    return None


def _apply(request, provider, facts, tokens):
    apply_refreshed(request, provider, request.user, facts.get("issuer", ""), facts.get("subject", ""), tokens)


def apply_refreshed(request, provider, user, issuer, subject, tokens):
    """Validate refreshed tokens of ``(issuer, subject)`` and apply the email domains, the role and the
    mirrored groups to ``user`` again, through the sign-in policy's own steps (a session's check, or an
    app token's: accounts.oidc.app_recheck)."""
    if tokens.get("id_token"):
        payload = idtoken.validate_refreshed_id_token(provider, tokens["id_token"], subject)
        if payload["iss"] != issuer:
            raise SignInError("invalid_token", f"refreshed ID token iss {payload['iss']!r} is not the session's")
    else:
        # An ID token is optional in a refresh response (OpenID Connect Core 12.2): userinfo speaks.
        payload = {"iss": issuer, "sub": subject}
    backend = OIDCBackend(provider=provider, request=request)
    claims = backend.get_userinfo(tokens["access_token"], tokens.get("id_token"), payload, refreshed=True)
    backend.check_email_domain(claims)
    role = resolve_role(provider, claims)
    identity = Identity.objects.filter(issuer=issuer, subject=subject, user=user).first()
    if identity is not None:
        backend.record_identity(identity, claims)
    backend.update_user(user, claims, role)  # after the identity's row, as a sign-in (OIDCBackend.sign_into)


def _failed(request, provider, facts, now, error):
    """A refresh that did not work: end the session, or keep it through an outage with back-off."""
    username = request.user.username
    if error.reason not in OUTAGE:
        reason = REFUSED.get(error.reason, "recheck_invalid")
        level = logging.ERROR if reason == "recheck_client" else logging.WARNING
        logger.log(level, "session recheck of %r at %s refused: reason=%s %s%s", username, provider.name,
                   error.reason, error.detail, " (a configuration error)" if reason == "recheck_client" else "")
        return _ended(request, provider, facts, reason, f"{error.reason}: {error.detail}")
    first = when(facts.get("recheck_failing_since")) or now
    failures = (facts.get("recheck_failures") or 0) + 1
    grace_ends = first + timedelta(seconds=provider.session_recheck_grace_seconds)
    if now >= grace_ends:
        logger.warning("session recheck of %r at %s: unreachable since %s, past the grace period: %s",
                       username, provider.name, first.isoformat(), error.detail)
        return _ended(request, provider, facts, "recheck_unreachable", f"since {first.isoformat()}: {error.detail}")
    delay = min(provider.session_recheck_seconds, BACKOFF_FIRST_SECONDS * 2 ** min(failures - 1, 20))
    due = min(now + timedelta(seconds=delay), grace_ends)
    if not _store(request, {**facts, "recheck_due": due.timestamp(), "recheck_failing_since": first.timestamp(),
                            "recheck_failures": failures}):
        return "session_gone"
    logger.warning("session recheck of %r at %s failed (%s, attempt %d): %s; retry in %ds, the session "
                   "ends at %s", username, provider.name, error.reason, failures, error.detail, delay,
                   grace_ends.isoformat())
    return None


def _ended(request, provider, facts, reason, detail):
    """The sign-in history shows why the session ended; returns ``reason``.

    Groups that now grant nothing, or a refused grant, also reach the person's app tokens
    (accounts.oidc.app_recheck): they would otherwise keep the role the provider just took away.
    """
    if reason in REACH_APP_TOKENS:
        app_recheck.session_ended(request, request.user, facts.get("issuer", ""), facts.get("subject", ""),
                                  sealed.unseal(facts.get("refresh_token")), reason)
    history.record(request, SignInEvent.Method.OIDC, SignInEvent.Outcome.REFUSED, user=request.user,
                   reason=reason, detail=detail, provider=provider.name, subject=facts.get("subject", ""))
    return reason


def _gone(request, provider_name, detail):
    """The session can no longer be rechecked: the history shows why it ended."""
    history.record(request, SignInEvent.Method.OIDC, SignInEvent.Outcome.REFUSED, user=request.user,
                   reason="session_gone", detail=detail, provider=provider_name)
    return "session_gone"


# --- at logout --------------------------------------------------------------------------------
def revoke_quietly(provider, token):
    """RFC 7009 revocation of ``token``; a failure is logged and never stops what called it.

    False when no answer came (unreachable, timed out, its certificate not trusted: the next
    token would fare the same); True when the provider answered, even with an error status.
    """
    try:
        if provider_client.revoke(provider, token):
            logger.info("refresh token revoked at %s", provider.name)
    except SignInError as error:
        logger.warning("refresh token revocation at %s failed: %s %s", provider.name, error.reason, error.detail)
        return "status" in error.context
    return True


def revoke_at_logout(facts, unanswered=None):
    """The session whose sign-in ``facts`` these are was logged out: revoke its refresh token.

    ``unanswered``, when given, counts per provider the tokens left unrevoked because the provider
    did not answer one revocation of this batch: it is asked no more, so signing out many
    sessions costs one ``OIDC_TIMEOUT`` of a hung provider, not one per session.
    """
    if not facts.get("refresh_token"):
        return
    token = sealed.unseal(facts.get("refresh_token"))
    provider = get_provider(facts["provider"]) if facts.get("provider") else None
    # A chain the person's app tokens are confirmed with outlives the session (accounts.oidc.app_recheck).
    token = app_recheck.at_logout(facts.get("issuer", ""), facts.get("subject", ""), token)
    if not token or provider is None:
        return
    if unanswered is not None and provider.name in unanswered:
        unanswered[provider.name] += 1
    elif not revoke_quietly(provider, token) and unanswered is not None:
        unanswered[provider.name] = 0
