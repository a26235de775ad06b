"""Bearer tokens for API clients and break-glass sign-in links: random, stored only as SHA-256.

A bearer token dies when it expires, when it is revoked, when its account is deactivated
and when the account's password changes (its ``password_fingerprint`` no longer matches).
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.models import ApiToken, SignInLink

# How often last_used_at is written for a token in use.
LAST_USED_EVERY = timedelta(minutes=5)


def digest(raw):
    return hashlib.sha256(raw.encode()).hexdigest()


def password_fingerprint(user, secret=None):
    """An HMAC of the stored password hash: changes whenever the password does."""
    return salted_hmac("accounts.api.bearer.password", user.password, secret=secret, algorithm="sha256").hexdigest()


def password_fingerprints(user):
    """``user``'s password's fingerprints under SECRET_KEY and each key of SECRET_KEY_FALLBACKS:
    a token issued before SECRET_KEY was rotated keeps working while the old key is a fallback."""
    return [password_fingerprint(user, secret) for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)]


def same_password(user, fingerprint):
    """Whether ``user``'s password is the one ``fingerprint`` was taken of."""
    return any(constant_time_compare(fingerprint, current) for current in password_fingerprints(user))


def issue(user):
    """A new bearer token for ``user``: returns the raw value (shown once) and the row."""
    raw = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        key_hash=digest(raw),
        password_fingerprint=password_fingerprint(user),
        expires_at=timezone.now() + timedelta(seconds=settings.API_TOKEN_SECONDS),
    )
    return raw, token


def find(raw):
    """The live token with this raw value, or None."""
    if not raw or len(raw) > 200:
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=digest(raw)).first()
    if token is None or token.revoked or token.expires_at <= timezone.now() or not token.user.is_active:
        return None
    if not same_password(token.user, token.password_fingerprint):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def revoke_all(user):
    """Revoke every live token of ``user``; returns how many."""
    return ApiToken.objects.filter(user=user, revoked=False, expires_at__gt=timezone.now()).update(
        revoked=True
    )


def create_sign_in_link(user, minutes):
    """A single-use sign-in link token for ``user``; returns the raw value (printed once)."""
    raw = secrets.token_urlsafe(32)
    SignInLink.objects.create(
        user=user, token_hash=digest(raw), expires_at=timezone.now() + timedelta(minutes=minutes)
    )
    return raw


def use_sign_in_link(raw):
    """Spend the link and return its account, the first time and within its lifetime; else None."""
    if not raw or len(raw) > 200:
        return None
    now = timezone.now()
    with transaction.atomic():
        spent = SignInLink.objects.filter(
            token_hash=digest(raw), used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        if not spent:
            return None
        return SignInLink.objects.select_related("user").get(token_hash=digest(raw)).user
