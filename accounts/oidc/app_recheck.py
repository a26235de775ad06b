"""App tokens follow the provider too: the role is confirmed on use, and a removal revokes them.

A client or device token acts with its scopes and its owner's current role. With
``OIDC_SESSION_RECHECK_SECONDS`` on, each OIDC identity keeps the refresh token of its newest
sign-in (``accounts.oidc.refresh_chain``); a token used after the interval first refreshes it at the
provider and applies the role again, as a session's check does (``accounts.oidc.recheck``), so a
person who only uses apps is demoted, or stopped, within the interval too. The provider ending
the person's grant (``invalid_grant``), or groups that grant no role any more, revoke every app
and device token of the account; so do an unlinked identity and a back-channel logout that
names the person (``sub``) rather than one session (``sid``). An unreachable provider is retried
with back-off; past ``OIDC_SESSION_RECHECK_GRACE_SECONDS`` the tokens are refused, not revoked,
until it answers.

Revoking is ``accounts.signals.access_withdrawn`` (``devices`` revokes its app and device
tokens, ``accounts`` its /api/token bearers); the password itself is this site's own credential
and stays, acting with the account's current role, which every check here updates. ``devices``
calls ``confirm`` from its token resolver and tells this module, through ``add_token_holder``,
whether a person still has tokens the refresh token is kept for.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.api import http as apiauth
from accounts.audit import history
from accounts.errors import SignInError
from accounts.models import Identity, SignInEvent, User
from accounts.oidc import client as provider_client
from accounts.oidc import recheck, refresh_chain, sealed
from accounts.oidc.provider import get_provider
from accounts.signals import access_withdrawn

logger = logging.getLogger(__name__)

# A request that finds another one refreshing waits this long for its result.
WAIT_SECONDS = 2
BACKOFF_FIRST_SECONDS = 5
# The provider's answers that end the grant, and what the refusal says then.
ENDED = {"code_rejected": "provider_ended", "no_role": "recheck_no_role",
         "email_domain": "recheck_email_domain", "email_domain_unproven": "recheck_email_domain"}
REFUSALS = {
    "provider_ended": (
        "The identity provider no longer confirms your account (your account there may have been "
        "deactivated or removed, or this site's access to it revoked or expired), so your app tokens on "
        "this site have been revoked. Sign in to this site again, then pair the app again or create a new "
        "token on your profile (/profile)."
    ),
    "recheck_no_role": (
        "Your groups at the identity provider no longer give you access to this site, so your app tokens "
        "here have been revoked. Ask your administrator to add you to one of the groups that grant a role "
        "here."
    ),
    "recheck_email_domain": (
        "Your email address at the identity provider is no longer a verified address in a domain this site "
        "accepts (OIDC_ALLOWED_EMAIL_DOMAINS), so your app tokens here have been revoked. Ask your "
        "administrator if you should still have access."
    ),
    "recheck_unreachable": (
        "This site could not confirm your account with the identity provider for longer than it allows "
        "(OIDC_SESSION_RECHECK_GRACE_SECONDS), so app tokens are refused until the provider answers again. "
        "Your token is not revoked: try again later."
    ),
}


# Functions ``user -> bool``: whether the person holds live tokens an app issued (``add_token_holder``).
TOKEN_HOLDERS = []


def add_token_holder(holds_tokens):
    """An app that resolves tokens with ``confirm`` says how to tell that a person holds some."""
    if holds_tokens not in TOKEN_HOLDERS:
        TOKEN_HOLDERS.append(holds_tokens)


# --- on each use of a client or device token ---------------------------------------------------
def confirm(request, token, due):
    """None when ``token`` may act now; else the ``REFUSALS`` key that refuses it (``refusal``).

    ``due``: when the owner's earliest identity check falls due (``refresh_chain.owner_due``,
    read with the token), so a token whose owner is not due costs nothing more.
    """
    now = timezone.now()
    if due is None or due > now:
        return None
    user = token.user
    looked = Q(recheck_due_at__lte=now) | Q(recheck_failing_since__isnull=False)
    for identity in Identity.objects.filter(looked, user=user).exclude(refresh_token=""):
        reason = _confirm(request, token, user, identity, now)
        if reason is not None:
            logger.warning("app token %s of %r refused: %s", token.pk, user.username, reason)
            return reason
    return None


def refusal(reason):
    """The JSON answer: 401 for a revoked token, 503 while the provider cannot confirm (nothing revoked)."""
    if reason == "recheck_unreachable":
        return apiauth.refusal(REFUSALS[reason], status=503)
    return apiauth.refusal(REFUSALS[reason], challenge='Bearer realm="RomM", error="invalid_token"')


def _confirm(request, token, user, identity, now):
    provider = get_provider(identity.provider)
    if provider is None or not provider.session_recheck_seconds:
        # The recheck was turned off, or the provider removed, since the sign-in: nothing to ask.
        logger.info("app recheck of %r at %s: off; its refresh token is dropped", user.username,
                    identity.provider)
        refresh_chain.clear(identity)
        return None
    try:
        # Discovery before the claim, so the claim only has to outlast the token request.
        provider.metadata()
    except SignInError:
        pass  # the refresh below meets it again and counts it as a failure
    if identity.recheck_due_at <= now and refresh_chain.claim(identity, now):
        return _refresh(request, provider, user, identity, now)
    return _after_another(token, user, identity, provider)


def _after_another(token, user, identity, provider):
    """Not this request's turn: wait for a refresh under way, or judge the failures seen so far."""
    identity.refresh_from_db()
    deadline = time.monotonic() + min(WAIT_SECONDS, settings.OIDC_TIMEOUT)
    while _busy(identity) and time.monotonic() < deadline:
        time.sleep(0.05)
        identity.refresh_from_db()
    user.refresh_from_db(fields=["role", "is_active"])
    if not type(token).objects.filter(pk=token.pk, revoked=False).exists():
        return "provider_ended"  # the other request's answer revoked it
    return _failing(identity, provider, timezone.now())


def _busy(identity):
    return identity.recheck_busy_until is not None and identity.recheck_busy_until > timezone.now()


def _failing(identity, provider, now):
    """``recheck_unreachable`` when the provider has failed to answer for longer than the grace period."""
    first = identity.recheck_failing_since
    if first is not None and now >= first + timedelta(seconds=provider.session_recheck_grace_seconds):
        return "recheck_unreachable"
    return None


def _refresh(request, provider, user, identity, now):
    token = sealed.unseal(identity.refresh_token)
    if token is None:
        logger.warning("app recheck of %r at %s: the stored refresh token cannot be read (SECRET_KEY "
                       "changed); app tokens keep the role last seen until the next sign-in",
                       user.username, provider.name)
        refresh_chain.clear(identity)
        return None
    try:
        tokens = provider_client.refresh(provider, token)
    except SignInError as error:
        return _failed(request, provider, user, identity, now, error)
    token = tokens.get("refresh_token") or token
    refresh_chain.rotated(identity, token)
    try:
        recheck.apply_refreshed(request, provider, user, identity.issuer, identity.subject, tokens)
    except SignInError as error:
        reason = _failed(request, provider, user, identity, now, error)
        if reason in ENDED.values():
            recheck.revoke_quietly(provider, token)
        return reason
    Identity.objects.filter(pk=identity.pk).update(
        recheck_due_at=now + timedelta(seconds=provider.session_recheck_seconds),
        recheck_failing_since=None,
        recheck_busy_until=None,
    )
    logger.debug("app recheck of %r at %s: confirmed as %s", user.username, provider.name, user.role)
    return None


def _failed(request, provider, user, identity, now, error):
    """A refresh that did not work: the grant ended, or a failure retried with back-off."""
    if error.reason in ENDED:
        logger.warning("app recheck of %r at %s refused: reason=%s %s", user.username, provider.name,
                       error.reason, error.detail)
        refresh_chain.clear(identity)
        reason = ENDED[error.reason]
        revoke_app_tokens(request, user, reason, f"{error.reason}: {error.detail}", identity)
        return reason
    # Unreachable, or an answer this site cannot use (a configuration error, a token that does not
    # validate): the person is not known to be removed, so nothing is revoked. Retries back off:
    # the wait doubles with the time failing so far, from 5 s up to the interval.
    first = identity.recheck_failing_since or now
    delay = min(provider.session_recheck_seconds, max(BACKOFF_FIRST_SECONDS, (now - first).total_seconds()))
    identity.recheck_failing_since = first
    Identity.objects.filter(pk=identity.pk).update(
        recheck_due_at=now + timedelta(seconds=delay), recheck_failing_since=first, recheck_busy_until=None
    )
    level = logging.ERROR if error.reason == "client_rejected" else logging.WARNING
    logger.log(level, "app recheck of %r at %s failed (%s): %s; retry in %ds, app tokens refused from %s",
               user.username, provider.name, error.reason, error.detail, delay,
               (first + timedelta(seconds=provider.session_recheck_grace_seconds)).isoformat())
    return _failing(identity, provider, now)


# --- what ends the person's app tokens ------------------------------------------------------------
def revoke_app_tokens(request, user, reason, detail, identity=None):
    """Withdraw every token of ``user`` (``access_withdrawn``); the history says why. Returns how
    many app and device tokens were revoked."""
    answers = access_withdrawn.send(sender=User, user=user, reason=reason)
    count = sum(answer for _, answer in answers if isinstance(answer, int))
    if count:
        logger.info("revoked %d app token(s) of %r: %s", count, user.username, reason)
        outcome = SignInEvent.Outcome.REFUSED if reason in REFUSALS else SignInEvent.Outcome.CHANGED
        history.record(
            request, SignInEvent.Method.APP_TOKEN, outcome, user=user, reason=reason,
            detail=f"{count} app token(s) revoked; {detail}",
            provider=identity.provider if identity else "", subject=identity.subject if identity else "",
        )
    return count


def session_ended(request, user, issuer, subject, token, reason):
    """A session's check was refused (``provider_ended``), found no role (``recheck_no_role``) or an
    email this site no longer accepts (``recheck_email_domain``).

    Groups that grant nothing, or the email, end the app tokens too. A refused refresh does when the session
    held the chain the app tokens are confirmed with (or the identity keeps none); otherwise the
    identity's own chain is asked at the next token use.
    """
    identity = Identity.objects.filter(issuer=issuer, subject=subject, user=user).first()
    held = refresh_chain.shares_chain(identity, token)
    if reason == "provider_ended" and identity is not None and identity.refresh_token and held != "current":
        Identity.objects.filter(pk=identity.pk).update(recheck_due_at=timezone.now())
        return
    if held == "current":
        refresh_chain.clear(identity)
    revoke_app_tokens(request, user, reason, "the session's check at the provider", identity)


def logged_out_by_subject(request, issuer, subject):
    """A back-channel logout naming the person (``sub``, no ``sid``): every session, and the app tokens."""
    identity = Identity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
    if identity is not None:
        revoke_app_tokens(request, identity.user, "backchannel_logout", "back-channel logout of the person",
                          identity)


def identity_unlinked(sender, instance, origin=None, **kwargs):
    """``post_delete`` of an Identity: whoever signed in through it may have made app tokens, so they go.

    Not when the account itself is being deleted (its tokens go with it).
    """
    if isinstance(origin, User) or getattr(origin, "model", None) is User:
        return
    user = User.objects.filter(pk=instance.user_id).first()
    if user is not None:
        revoke_app_tokens(None, user, "identity_unlinked", f"{instance.provider} identity unlinked", instance)


# --- at logout ------------------------------------------------------------------------------------
def at_logout(issuer, subject, token):
    """The refresh token a logged-out session should revoke at the provider, or None to keep it.

    A chain the person's live app tokens are confirmed with is kept for them; otherwise its
    newest token is revoked and the identity forgets it.
    """
    identity = Identity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
    held = refresh_chain.shares_chain(identity, token)
    if held == "handover":
        handed = Identity.objects.filter(
            pk=identity.pk, refresh_token_handover_for=identity.refresh_token_handover_for
        )
        handed.update(refresh_token_handover="", refresh_token_handover_for="")
        return sealed.unseal(identity.refresh_token_handover) or token
    if held is None:
        return token
    if any(holds_tokens(identity.user) for holds_tokens in TOKEN_HOLDERS):
        Identity.objects.filter(pk=identity.pk, refresh_token_shared=identity.refresh_token_shared).update(
            refresh_token_shared=""
        )
        logger.info("logout of %r: the refresh token is kept for the app tokens' recheck",
                    identity.user.username)
        return None
    newest = sealed.unseal(identity.refresh_token)
    refresh_chain.clear(identity)
    return newest or token
