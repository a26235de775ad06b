"""Apps and devices: client API tokens, pairing codes, RFC 8628 device authorizations, devices.

Every secret here (token, pairing code, device code) is stored only as its SHA-256; the raw
value is shown once. Single use is enforced by conditional UPDATEs (see ``devices/client_tokens.py``
and ``devices/device_flow.py``), so it holds across processes.
"""

from django.conf import settings
from django.db import models


class Device(models.Model):
    """One app on one machine of one person: ``(user, client_device_identifier)`` is unique."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="devices")
    client_device_identifier = models.CharField(max_length=255)
    name = models.CharField(max_length=100)
    client = models.CharField(max_length=100)
    platform = models.CharField(max_length=100, blank=True)
    client_version = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Written at most every five minutes.
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "client_device_identifier"], name="devices_device_unique")
        ]

    def __str__(self):
        return f"{self.name} ({self.client})"


class ClientToken(models.Model):
    """An app's bearer token ``rmm_`` + 64 hex; acts with its scopes AND its owner's current role.

    What it was minted with bounds it (``devices/bounds.py``): a password (its fingerprint, so
    the token stops when the password changes) and the token or /api/token bearer that minted
    it (the token stops when that one stops, and expires no later).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="client_tokens")
    name = models.CharField(max_length=100)
    scopes = models.JSONField(default=list)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    # Written at most every five minutes.
    last_used_at = models.DateTimeField(null=True, blank=True)
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="tokens"
    )
    revoked = models.BooleanField(default=False)
    # Minted with a password: accounts.api.bearer.password_fingerprint then ("" otherwise).
    password_fingerprint = models.CharField(max_length=64, blank=True, default="")
    minted_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="minted"
    )
    minted_by_api_token = models.ForeignKey(
        "accounts.ApiToken", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.user})"


class PairingCode(models.Model):
    """A 60-second, single-use code that hands a client token to an app (its SHA-256 only)."""

    token = models.ForeignKey(ClientToken, on_delete=models.CASCADE, related_name="pairing_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


class DeviceAuthorization(models.Model):
    """An RFC 8628 device authorization request, from init to the one token it may yield."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        DENIED = "denied", "Denied"

    device_code_hash = models.CharField(max_length=64, unique=True)
    # Short and typed by a person; useless without a signed-in person approving it.
    user_code = models.CharField(max_length=8, unique=True)
    requested_scopes = models.JSONField(default=list)
    granted_scopes = models.JSONField(default=list)
    client_device_identifier = models.CharField(max_length=255)
    name = models.CharField(max_length=100)
    client = models.CharField(max_length=100)
    platform = models.CharField(max_length=100, blank=True)
    client_version = models.CharField(max_length=50, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    interval = models.PositiveIntegerField(default=5)
    last_poll_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    # Approved in a session a password opened: the device's token is tied to that password.
    password_fingerprint = models.CharField(max_length=64, blank=True, default="")
    # Set once, by the one poll that receives the token.
    redeemed_at = models.DateTimeField(null=True, blank=True)
    token = models.ForeignKey(ClientToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
