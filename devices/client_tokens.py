"""Client API tokens as data: ``rmm_`` + 64 hex, stored only as SHA-256, found by that hash.

``find`` is on every token-authenticated request: one query (token, owner, device and when the
owner's provider recheck falls due, together), one more per token up the chain that minted it,
and a write only when ``last_used_at`` / ``last_seen_at`` is five minutes old.

A token stops when it is revoked or expires, when its owner is deactivated, when it was minted
with a password and that password changed or DISABLE_USERPASS_LOGIN is set, and when the
token or /api/token bearer that minted it stopped (``stopped``).
"""

import hashlib
import logging
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.api import http as apiauth
from accounts.api.access import Access, scopes_for_role
from accounts.api.bearer import password_fingerprints, same_password
from accounts.audit import history
from accounts.models import ApiToken, SignInEvent
from accounts.oidc import app_recheck, refresh_chain
from devices.models import ClientToken, Device, DeviceAuthorization

logger = logging.getLogger(__name__)

PREFIX = "rmm_"
SHAPE = re.compile(r"rmm_[0-9a-f]{64}")
# How often last_used_at (token) and last_seen_at (device) are written for a token in use.
TOUCH_EVERY = timedelta(minutes=5)
MAX_PER_PERSON = 25
TOKEN_INVALID = (
    "The app token is unknown, expired or revoked. Create a new one on your profile page (/profile), "
    "or pair the app again."
)
EXPIRY_CHOICES = {
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "1y": timedelta(days=365),
    "never": None,
}


def digest(raw):
    return hashlib.sha256(raw.encode()).hexdigest()


def looks_like_client_token(raw):
    return bool(SHAPE.fullmatch(raw or ""))


def new_raw():
    return PREFIX + secrets.token_hex(32)


def expiry(choice, now=None):
    """The ``expires_at`` for an ``expires_in`` choice (None: never)."""
    delta = EXPIRY_CHOICES[choice]
    return None if delta is None else (now or timezone.now()) + delta


def create(user, name, scopes, expires_at, device=None, **bounds):
    """A new token; returns the raw value (shown once) and the row.

    ``bounds``: ``password_fingerprint``, ``minted_by``, ``minted_by_api_token`` (see
    ``devices.bounds.Bounds.fields``).
    """
    raw = new_raw()
    token = ClientToken.objects.create(
        user=user,
        name=name,
        scopes=sorted(scopes),
        token_hash=digest(raw),
        expires_at=expires_at,
        device=device,
        **bounds,
    )
    return raw, token


def create_limited(request, name, scopes, expires_in, bounds):
    """Make a token within the 25 limit; ``(raw, token)`` or None when the limit is reached.

    ``bounds`` (a ``devices.bounds.Bounds``) is what the credential asking ties the token to:
    its expiry caps the requested one.
    """
    user = request.user
    with transaction.atomic():
        # The owner's row lock serialises concurrent creations, so the count stays true.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        if live(user).count() >= MAX_PER_PERSON:
            return None
        raw, token = create(user, name, scopes, bounds.cap(expiry(expires_in)), **bounds.fields())
    history.record(
        request,
        SignInEvent.Method.APP_TOKEN,
        SignInEvent.Outcome.CHANGED,
        user=user,
        reason="token_created",
        detail=f"token {token.pk} {' '.join(token.scopes)}",
    )
    logger.info(
        "client token %s created for %r with %s (expires %s, tied to the password: %s, minted by %s)",
        token.pk, user.username, token.scopes, token.expires_at or "never",
        "yes" if token.password_fingerprint else "no", bounds.describe(),
    )
    return raw, token


def rotate(token):
    """Give ``token`` a new raw value; the old one stops working at once. Returns the new value."""
    raw = new_raw()
    ClientToken.objects.filter(pk=token.pk).update(token_hash=digest(raw))
    token.token_hash = digest(raw)
    return raw


def find(raw, in_use=True):
    """``(token, None)`` for a live token with this raw value, else ``(None, why)``.

    ``why`` is ``unknown`` or a reason of ``stopped``, for the operator's log line; the caller
    answers them all the same way. ``in_use=False`` leaves the last use unwritten, for a caller
    with more to check before the token is used.
    """
    if not looks_like_client_token(raw):
        return None, "unknown"
    token = (
        ClientToken.objects.select_related("user", "device")
        .annotate(owner_recheck_due=refresh_chain.owner_due())  # accounts.oidc.app_recheck
        .filter(token_hash=digest(raw))
        .first()
    )
    if token is None:
        return None, "unknown"
    now = timezone.now()
    why = stopped(token, now)
    if why is not None:
        return None, why
    if in_use:
        touch(token, now)
    return token, None


def stopped(token, now=None):
    """Why ``token`` no longer works, or None.

    ``revoked``, ``expired``, ``inactive`` (the owner is deactivated), ``password_changed`` or
    ``password_disabled`` (it was minted with a password: the password changed since, or
    DISABLE_USERPASS_LOGIN is set), ``minter_stopped`` (the token or /api/token bearer that
    minted it, or one further up, was revoked or expired).
    """
    now = now or timezone.now()
    if token.revoked:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    if not token.user.is_active:
        return "inactive"
    if token.password_fingerprint:
        if settings.DISABLE_USERPASS_LOGIN:
            return "password_disabled"
        if not same_password(token.user, token.password_fingerprint):
            return "password_changed"
    if minter_stopped(token, now):
        return "minter_stopped"
    return None


def minter_stopped(token, now):
    """True when a token up the chain that minted ``token`` was revoked or has expired.

    One query per level; a token minted by nothing costs none. A minted token is always newer
    than its minter, so the chain ends; ``seen`` guards against a hand-edited loop.
    """
    parent_id, bearer_id, seen = token.minted_by_id, token.minted_by_api_token_id, {token.pk}
    while True:
        if bearer_id is not None and not ApiToken.objects.filter(
            pk=bearer_id, revoked=False, expires_at__gt=now
        ).exists():
            return True
        if parent_id is None:
            return False
        if parent_id in seen:
            return True
        seen.add(parent_id)
        parent = (
            ClientToken.objects.filter(pk=parent_id, revoked=False)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
            .values("minted_by_id", "minted_by_api_token_id")
            .first()
        )
        if parent is None:
            return True
        parent_id, bearer_id = parent["minted_by_id"], parent["minted_by_api_token_id"]


def touch(token, now):
    """Write last use (and the device's last seen) when the stored value is five minutes old."""
    stale = now - TOUCH_EVERY
    if token.last_used_at is None or token.last_used_at < stale:
        ClientToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
        ).update(last_used_at=now)
        token.last_used_at = now
    device = token.device
    if device is not None and (device.last_seen_at is None or device.last_seen_at < stale):
        Device.objects.filter(pk=device.pk).filter(
            Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=stale)
        ).update(last_seen_at=now)
        device.last_seen_at = now


def holds_live(user):
    """Whether ``user`` has a token that still works (``accounts.oidc.app_recheck.add_token_holder``)."""
    return live(user).exists()


def live(user):
    """The owner's tokens that still work (``stopped`` finds nothing), as a queryset."""
    now = timezone.now()
    tokens = ClientToken.objects.filter(user=user, revoked=False).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    if settings.DISABLE_USERPASS_LOGIN:
        tokens = tokens.filter(password_fingerprint="")
    else:
        tokens = tokens.filter(Q(password_fingerprint="") | Q(password_fingerprint__in=password_fingerprints(user)))
    minted = tokens.filter(Q(minted_by__isnull=False) | Q(minted_by_api_token__isnull=False))
    cut_off = [token.pk for token in minted if minter_stopped(token, now)]
    return tokens.exclude(pk__in=cut_off) if cut_off else tokens


def revoke_all(user):
    """Revoke every client token of ``user`` (deactivation); returns how many."""
    return ClientToken.objects.filter(user=user, revoked=False).update(revoked=True)


def access_withdrawn(sender, user, reason, **kwargs):
    """The owner's access was taken away (deactivated, or no longer granted at the provider):
    every app and device token of theirs stops, even once access comes back, and so does every
    device sign-in of theirs not yet redeemed (its next poll gets ``access_denied``).

    The sign-ins are denied first: a poll redeeming one at the same moment holds its row until
    its token exists, and that token is then revoked with the others.
    """
    denied = DeviceAuthorization.objects.filter(
        user=user,
        status__in=[DeviceAuthorization.Status.PENDING, DeviceAuthorization.Status.APPROVED],
        redeemed_at__isnull=True,
    ).update(status=DeviceAuthorization.Status.DENIED, decided_at=timezone.now())
    if denied:
        logger.info("%d device sign-in(s) of %r not yet redeemed denied: %s", denied, user.username, reason)
    count = revoke_all(user)
    if count:
        logger.info("%d client token(s) of %r revoked: %s", count, user.username, reason)
    return count


def resolve_bearer(request, scheme, credentials):
    """API credential resolver (``settings.API_CREDENTIAL_RESOLVERS``): an app's or device's token.

    Acts with the token's scopes AND its owner's current role; None for anything not shaped like
    a client token, so the next resolver may try it.
    """
    if scheme != "bearer" or not looks_like_client_token(credentials):
        return None
    token, why = find(credentials)
    if token is None:
        logger.warning("API client token refused: %s", why)
        return apiauth.refusal(TOKEN_INVALID, challenge='Bearer realm="RomM", error="invalid_token"')
    return access(request, token, "device_token" if token.device_id else "client_token")


def access(request, token, credential):
    """What a request made with ``token`` may do: its scopes AND its owner's current role (with
    the recheck on, confirmed at the provider once per interval), or the refusal."""
    refused = app_recheck.confirm(request, token, token.owner_recheck_due)
    if refused is not None:
        return app_recheck.refusal(refused)
    scopes = frozenset(token.scopes) & scopes_for_role(token.user.role)
    return Access(user=token.user, credential=credential, scopes=scopes, token=token, device=token.device)
