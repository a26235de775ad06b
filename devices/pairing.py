"""Pairing codes as data: 60 seconds, single use, and the exchange rotates the token.

Single use holds across processes: the exchange is one conditional UPDATE (``used_at`` still
empty and not expired), so of two simultaneous exchanges exactly one changes a row.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from devices import client_tokens as tokens
from devices import codes
from devices.models import PairingCode

LIFETIME = timedelta(seconds=60)


def create(token):
    """A new code for ``token`` (the earlier unused ones stop working); returns the raw code."""
    now = timezone.now()
    PairingCode.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    PairingCode.objects.filter(token=token, used_at__isnull=True).update(used_at=now)
    for _ in range(5):
        code = codes.new_code()
        try:
            with transaction.atomic():
                PairingCode.objects.create(
                    token=token, code_hash=tokens.digest(code), expires_at=now + LIFETIME
                )
        except IntegrityError:  # the same code was drawn before (1 in 8.5e11)
            continue
        return code
    raise RuntimeError("could not draw an unused pairing code")


def pending(user, typed):
    """The owner's unclaimed, unexpired code matching ``typed``, or None."""
    code = codes.normalize(typed)
    if code is None:
        return None
    return PairingCode.objects.filter(
        code_hash=tokens.digest(code), token__user=user, used_at__isnull=True, expires_at__gt=timezone.now()
    ).first()


def pending_for_token(token):
    """``token``'s unclaimed, unexpired code (a new code ends the earlier ones), or None."""
    return PairingCode.objects.filter(token=token, used_at__isnull=True, expires_at__gt=timezone.now()).first()


def exchange(typed):
    """Spend the code: ``(raw, token)`` with the token's new raw value, or None (unknown, used, expired).

    The token is rotated, so a copy of its raw value taken earlier stops working.
    """
    code = codes.normalize(typed)
    if code is None:
        return None
    now = timezone.now()
    with transaction.atomic():
        spent = PairingCode.objects.filter(
            code_hash=tokens.digest(code), used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        if not spent:
            return None
        token = PairingCode.objects.select_related("token__user").get(code_hash=tokens.digest(code)).token
        if tokens.stopped(token, now) is not None:
            return None
        return tokens.rotate(token), token
