"""RFC 8628 on RomM's paths: ``/api/auth/device/init`` and ``/api/auth/device/token``.

Errors carry RFC 8628's ``error`` and, for RomM's clients, the same code in ``detail``, plus
a sentence in ``error_description``.
"""

import logging

from django.conf import settings
from django.http import JsonResponse
from django.urls import reverse
from django.utils.http import urlencode

from accounts.api.access import SCOPES
from accounts.audit import history
from devices import codes, limits
from devices import device_flow as flow
from devices.jsonbody import BadBody, no_store, public_api, read, text

logger = logging.getLogger(__name__)

INITS_PER_MINUTE = 10
POLLS_PER_MINUTE = 60
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DESCRIPTIONS = {
    "authorization_pending": "The person has not approved this device yet: keep polling.",
    "slow_down": "Polled sooner than the interval: wait {interval} seconds between polls.",
    "access_denied": "The person denied this device.",
    "expired_token": "The device code is unknown, expired or was already used: start again with "
    "/api/auth/device/init.",
    "invalid_request": "{sentence}",
    "unsupported_grant_type": f"Use grant_type={DEVICE_GRANT}.",
    "invalid_scope": "{sentence}",
}


def oauth_error(error, status=400, **values):
    description = DESCRIPTIONS[error].format(**values)
    body = {"error": error, "detail": error, "error_description": description}
    return no_store(JsonResponse(body, status=status))


def init_fields(body):
    """The authorization's fields from the init body; BadBody naming a bad field."""
    scopes = body.get("requested_scopes")
    if isinstance(scopes, str):  # the RFC's space-separated ``scope`` shape
        scopes = scopes.split()
    if scopes is None and isinstance(body.get("scope"), str):
        scopes = body["scope"].split()
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        raise BadBody(f"requested_scopes must be a non-empty list of scope names ({', '.join(SCOPES)}).")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise BadBody(f"requested_scopes: {unknown[0][:40]!r} is not a scope; use {', '.join(SCOPES)}.")
    return {
        "client_device_identifier": text(body, "client_device_identifier", 255),
        "name": text(body, "name", 100),
        "client": text(body, "client", 100),
        "platform": text(body, "platform", 100, required=False),
        "client_version": text(body, "client_version", 50, required=False),
        "requested_scopes": [s for s in SCOPES if s in scopes],
    }


@public_api("POST")
def init(request):
    """Start a device authorization: 201 with the codes and where the person approves it."""
    if not limits.allow(request, "device-init", INITS_PER_MINUTE):
        logger.warning("device init refused: rate limited (address %s)", history.client_address(request))
        return no_store(
            JsonResponse(
                {
                    "detail": "Too many device sign-ins started from this address. Wait a minute and try again."
                },
                status=429,
            )
        )
    try:
        fields = init_fields(read(request, allow_form=True))
    except BadBody as error:
        logger.warning("device init refused: %s", error)
        return oauth_error("invalid_request", sentence=str(error))
    device_code, row = flow.start(fields)
    path = reverse("pair_device")
    complete = f"{path}?{urlencode({'user_code': codes.display(row.user_code)})}"
    logger.info("device authorization %s started by %r (%s)", row.pk, row.name, row.client)
    return no_store(
        JsonResponse(
            {
                "device_code": device_code,
                "user_code": codes.display(row.user_code),
                "verification_uri": settings.ROMM_BASE_URL + path,
                "verification_uri_complete": settings.ROMM_BASE_URL + complete,
                "verification_path": path,
                "verification_path_complete": complete,
                "expires_in": int(flow.LIFETIME.total_seconds()),
                "interval": row.interval,
            },
            status=201,
        )
    )


@public_api("POST")
def token(request):
    """Poll for the token: JSON ``{device_code}`` or the RFC's form with ``grant_type``."""
    if not limits.allow(request, "device-token", POLLS_PER_MINUTE):
        logger.warning("device token refused: rate limited (address %s)", history.client_address(request))
        return oauth_error("slow_down", status=429, interval=60)
    try:
        body = read(request, allow_form=True)
        grant_type = body.get("grant_type")
        if grant_type is not None and grant_type != DEVICE_GRANT:
            logger.warning("device token refused: grant_type %r", str(grant_type)[:60])
            return oauth_error("unsupported_grant_type")
        device_code = text(body, "device_code", 100)
    except BadBody as error:
        logger.warning("device token refused: %s", error)
        return oauth_error("invalid_request", sentence=str(error))
    error, row, raw = flow.poll(device_code)  # row: the authorization, or on success the token
    if error is not None:
        if error not in ("authorization_pending", "slow_down"):
            logger.warning("device token refused: %s (authorization %s)", error, row.pk if row else "-")
        interval = row.interval + flow.SLOW_DOWN_STEP if row is not None else flow.INTERVAL
        return oauth_error(error, interval=interval)
    return no_store(
        JsonResponse(
            {
                "access_token": raw,
                "token_type": "Bearer",
                "device_id": str(row.device_id),  # a string, as RomM's (apps decode it so)
                "scopes": row.scopes,
                "expires_at": row.expires_at,
            }
        )
    )
