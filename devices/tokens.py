"""Client API tokens as data: ``rmm_`` + 64 hex, stored only as SHA-256, found by that hash.

``find`` is on every token-authenticated request: one query (token, owner and device
together) and a write only when ``last_used_at`` / ``last_seen_at`` is five minutes old.
"""

import hashlib
import logging
import re
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import apiauth, history
from accounts.access import Access, scopes_for_role
from accounts.models import SignInEvent
from devices.models import ClientToken, Device

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


def create(user, name, scopes, expires_at, device=None):
    """A new token; returns the raw value (shown once) and the row."""
    raw = new_raw()
    token = ClientToken.objects.create(
        user=user,
        name=name,
        scopes=sorted(scopes),
        token_hash=digest(raw),
        expires_at=expires_at,
        device=device,
    )
    return raw, token


def create_limited(request, name, scopes, expires_in):
    """Make a token within the 25 limit; ``(raw, token)`` or None when the limit is reached."""
    user = request.user
    with transaction.atomic():
        # The owner's row lock serialises concurrent creations, so the count stays true.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        if live(user).count() >= MAX_PER_PERSON:
            return None
        raw, token = create(user, name, scopes, expiry(expires_in))
    history.record(
        request,
        SignInEvent.Method.APP_TOKEN,
        SignInEvent.Outcome.CHANGED,
        user=user,
        reason="token_created",
        detail=f"token {token.pk} {' '.join(token.scopes)}",
    )
    logger.info("client token %s created for %r with %s", token.pk, user.username, token.scopes)
    return raw, token


def rotate(token):
    """Give ``token`` a new raw value; the old one stops working at once. Returns the new value."""
    raw = new_raw()
    ClientToken.objects.filter(pk=token.pk).update(token_hash=digest(raw))
    token.token_hash = digest(raw)
    return raw


def find(raw, in_use=True):
    """``(token, None)`` for a live token with this raw value, else ``(None, why)``.

    ``why`` is ``unknown``, ``revoked``, ``expired`` or ``inactive`` (the owner is deactivated),
    for the operator's log line; the caller answers all four the same way. ``in_use=False``
    leaves the last use unwritten, for a caller with more to check before the token is used.
    """
    if not looks_like_client_token(raw):
        return None, "unknown"
    token = ClientToken.objects.select_related("user", "device").filter(token_hash=digest(raw)).first()
    if token is None:
        return None, "unknown"
    now = timezone.now()
    if token.revoked:
        return None, "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return None, "expired"
    if not token.user.is_active:
        return None, "inactive"
    if in_use:
        touch(token, now)
    return token, None


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


def live(user):
    """The owner's tokens that still work (not revoked, not expired)."""
    now = timezone.now()
    return ClientToken.objects.filter(user=user, revoked=False).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def revoke_all(user):
    """Revoke every client token of ``user`` (deactivation); returns how many."""
    return ClientToken.objects.filter(user=user, revoked=False).update(revoked=True)


def access_withdrawn(sender, user, reason, **kwargs):
    """The owner's access was taken away (deactivated, or no longer granted at the provider):
    every app and device token of theirs stops, even once access comes back."""
    count = revoke_all(user)
    if count:
        logger.info("%d client token(s) of %r revoked: %s", count, user.username, reason)


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
    return access(token, "device_token" if token.device_id else "client_token")


def access(token, credential):
    """What a request made with ``token`` may do: its scopes AND its owner's current role."""
    scopes = frozenset(token.scopes) & scopes_for_role(token.user.role)
    return Access(user=token.user, credential=credential, scopes=scopes, token=token, device=token.device)
