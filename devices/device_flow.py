"""RFC 8628 device authorization as data: start, approve or deny, poll.

Everything that must happen once is a conditional UPDATE, so it holds with several workers:
approving or denying changes only a pending, unexpired row; a poll passes only if the
previous one is at least ``interval`` seconds old (else ``slow_down``, and the interval grows
by 5 s, stored); the token is created by the one poll that sets ``redeemed_at``.
"""

import logging
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.api.access import scopes_for_role
from devices import client_tokens as tokens
from devices import codes
from devices.models import ClientToken, Device, DeviceAuthorization

logger = logging.getLogger(__name__)

LIFETIME = timedelta(seconds=600)
INTERVAL = 5
SLOW_DOWN_STEP = 5
Status = DeviceAuthorization.Status


def start(fields):
    """A new pending authorization from validated ``fields``; returns ``(device_code, row)``."""
    # Rows a day past their expiry are of no further use to anyone.
    DeviceAuthorization.objects.filter(expires_at__lt=timezone.now() - timedelta(days=1)).delete()
    device_code = secrets.token_hex(32)
    for _ in range(5):
        try:
            with transaction.atomic():
                row = DeviceAuthorization.objects.create(
                    device_code_hash=tokens.digest(device_code),
                    user_code=codes.new_code(),
                    expires_at=timezone.now() + LIFETIME,
                    interval=INTERVAL,
                    **fields,
                )
        except IntegrityError:  # a user code still in the table was drawn again
            continue
        return device_code, row
    raise RuntimeError("could not draw an unused user code")


def pending(typed_user_code):
    """The pending, unexpired authorization for a typed user code, or None."""
    code = codes.normalize(typed_user_code)
    if code is None:
        return None
    return DeviceAuthorization.objects.filter(
        user_code=code, status=Status.PENDING, expires_at__gt=timezone.now()
    ).first()


def grantable(row, user):
    """The requested scopes ``user``'s role allows, in SCOPES order."""
    allowed = scopes_for_role(user.role)
    return [scope for scope in row.requested_scopes if scope in allowed]


def decide(row, user, approve, password_fingerprint=""):
    """Approve (with the scopes the role allows) or deny; False when it was no longer pending.

    ``password_fingerprint``: the approving session was opened with this password, so the
    device's token stops when it changes (``devices.bounds``).
    """
    now = timezone.now()
    changes = {"status": Status.APPROVED if approve else Status.DENIED, "user": user, "decided_at": now}
    if approve:
        changes["granted_scopes"] = grantable(row, user)
        changes["password_fingerprint"] = password_fingerprint
    return bool(
        DeviceAuthorization.objects.filter(pk=row.pk, status=Status.PENDING, expires_at__gt=now).update(
            **changes
        )
    )


def poll(device_code):
    """One poll: ``(None, token_row, raw)`` the one time it succeeds, else ``(error, row, None)``.

    ``error`` is an RFC 8628 section 3.5 code; an unknown or already redeemed device code is
    ``expired_token``, as RomM answers it (its apps then start again; ``invalid_grant`` they
    do not know).
    """
    row = DeviceAuthorization.objects.filter(device_code_hash=tokens.digest(device_code or "")).first()
    if row is None or row.redeemed_at is not None:
        return "expired_token", row, None
    now = timezone.now()
    if row.expires_at <= now:
        return "expired_token", row, None
    on_time = (
        DeviceAuthorization.objects.filter(pk=row.pk, interval=row.interval)
        .filter(Q(last_poll_at__isnull=True) | Q(last_poll_at__lte=now - timedelta(seconds=row.interval)))
        .update(last_poll_at=now)
    )
    if not on_time:
        DeviceAuthorization.objects.filter(pk=row.pk).update(
            interval=F("interval") + SLOW_DOWN_STEP, last_poll_at=now
        )
        return "slow_down", row, None
    if row.status == Status.DENIED:
        return "access_denied", row, None
    if row.status == Status.PENDING:
        return "authorization_pending", row, None
    return redeem(row, now)


def redeem(row, now):
    """The approved authorization's one token, made by whichever poll sets ``redeemed_at`` first."""
    with transaction.atomic():
        if not DeviceAuthorization.objects.filter(
            pk=row.pk, status=Status.APPROVED, redeemed_at__isnull=True
        ).update(redeemed_at=now):
            return "expired_token", row, None
        user = row.user
        if not user.is_active:
            return "access_denied", row, None
        # The owner's row lock serialises token creation, so the 25 limit holds at issue time.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        replaced = ClientToken.objects.filter(
            device__user=user, device__client_device_identifier=row.client_device_identifier, revoked=False
        ).count()
        if tokens.live(user).count() - replaced >= tokens.MAX_PER_PERSON:
            logger.warning("device authorization %s refused at redeem: %r has %d tokens", row.pk,
                           user.username, tokens.MAX_PER_PERSON)
            return "access_denied", row, None
        device, _ = Device.objects.update_or_create(
            user=user,
            client_device_identifier=row.client_device_identifier,
            defaults={
                "name": row.name,
                "client": row.client,
                "platform": row.platform,
                "client_version": row.client_version,
                "last_seen_at": now,
            },
        )
        # One device, one live token: pairing the same device again replaces the old one.
        ClientToken.objects.filter(device=device, revoked=False).update(revoked=True)
        raw, token = tokens.create(
            user, f"{row.name} ({row.client})"[:100], row.granted_scopes, None, device,
            password_fingerprint=row.password_fingerprint,
        )
        DeviceAuthorization.objects.filter(pk=row.pk).update(token=token)
    logger.info("device authorization %s redeemed: token %s for account %r", row.pk, token.pk, user.username)
    return None, token, raw
