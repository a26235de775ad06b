"""The account's JSON API on RomM's paths: sign-in, sign-out, the account, the heartbeat.

The heartbeat and ``/api/users/me`` answer RomM 5's shapes (RomM's
backend/endpoints/responses/heartbeat.py and identity.py ``UserSchema``), which RomM's apps
decode strictly; this site's own keys stay alongside.
"""

import json
import logging

from django.conf import settings
from django.contrib import auth
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from accounts.api import bearer as tokens
from accounts.api.access import api_view, app_password, scopes_for_role
from accounts.api.http import (
    BASIC_MALFORMED,
    authorization,
    basic_credentials,
    method_not_allowed,
    password_refusal,
    refusal,
)
from accounts.local.passwords import PasswordRefused, open_session, sign_in_with_password
from accounts.local.setup import wizard_open
from accounts.models import SignInEvent
from accounts.oidc.provider import get_provider, providers
from accounts.oidc.recheck import revoke_at_logout
from accounts.sessions.engine import facts_of

logger = logging.getLogger(__name__)


# The RomM API version this site speaks in SYSTEM.VERSION. RomM's apps decide from it what to
# offer: device sign-in from 5.0.0 (argosy-launcher, grout, romm-ios-app), and romm-ios-app
# warns above the newest version it knows. 5.0.0 is the release whose shapes this site mirrors.
ROMM_VERSION = "5.0.0"
# RomM's metadata sources (RomM 5.0's heartbeat); this site queries none of them.
METADATA_SOURCES = ("IGDB", "SS", "MOBY", "STEAMGRIDDB", "RA", "LAUNCHBOX", "HASHEOUS", "PLAYMATCH", "TGDB",
                    "FLASHPOINT", "HLTB", "LIBRETRO")  # fmt: skip
SCHEDULED_TASKS = ("RESCAN", "UPDATE_SWITCH_TITLEDB", "UPDATE_LAUNCHBOX_METADATA", "CONVERT_IMAGES_TO_WEBP")


def user_json(user, device=None):
    """RomM's ``UserSchema`` for ``user``, plus this site's ``is_active`` and ``identities``."""
    last_seen = max(filter(None, (user.date_joined, user.last_login)))
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "enabled": user.is_active,
        "role": user.role,
        "permission_group_id": None,
        "oauth_scopes": sorted(scopes_for_role(user.role)),
        "avatar_path": "",
        "last_login": user.last_login,
        "last_active": user.last_login,
        "ra_username": "",
        "ra_progression": None,
        "ui_settings": None,
        "current_device_id": str(device.pk) if device is not None else None,
        "created_at": user.date_joined,
        "updated_at": last_seen,
        "is_active": user.is_active,
        "identities": [
            {"provider": i.provider, "issuer": i.issuer, "subject": i.subject} for i in user.identities.all()
        ],
    }


@api_view("GET", scope="me.read")
def users_me(request):
    """``/api/users/me``: the signed-in account (and the device, for a device's token), or 401."""
    return JsonResponse(user_json(request.user, request.access.device))


@csrf_exempt
def login(request):
    """``/api/login``: HTTP Basic credentials start a session."""
    if request.method != "POST":
        return method_not_allowed(request, ["POST"])
    scheme, credentials = authorization(request)
    if scheme != "basic":
        logger.warning("API login refused: no HTTP Basic credentials")
        return refusal("Send your username and password with HTTP Basic.")
    pair = basic_credentials(credentials)
    if pair is None:
        logger.warning("API login refused: malformed HTTP Basic header")
        return refusal(BASIC_MALFORMED)
    app = app_password(request, *pair)
    if isinstance(app, HttpResponse):
        return app
    if app is not None:
        # A session would carry the whole role, more than the token's scopes.
        logger.warning("API login refused for %r: an app password opens no session", app.user.username)
        return refusal(APP_PASSWORD_NO_SESSION)
    try:
        user = sign_in_with_password(request, *pair, SignInEvent.Method.API, record_success=False)
        open_session(request, user, SignInEvent.Method.API)
    except PasswordRefused as error:
        return password_refusal(error)
    return JsonResponse({"detail": "Signed in.", "user": user_json(user)})


APP_PASSWORD_NO_SESSION = (
    "An app password opens no session: send it with every request (HTTP Basic, or as "
    "Authorization: Bearer), and it acts with its own scopes."
)


@api_view("POST")
def logout(request):
    """``/api/logout``: ends the session, or revokes the bearer token the request used."""
    access = request.access
    if access is not None and access.token is not None:
        # A token request signs out by revoking the token it used (a password-grant token, or
        # an app's or device's token): every token model has ``revoked``.
        type(access.token).objects.filter(pk=access.token.pk).update(revoked=True)
        logger.info(
            "%s %s of %r revoked by /api/logout", access.credential, access.token.pk, request.user.username
        )
        return JsonResponse({"detail": "Token revoked."})
    facts = facts_of(request.session)
    auth.logout(request)
    revoke_at_logout(facts)
    return JsonResponse({"detail": "Signed out."})


def grant_error(error, description, status=400):
    """An RFC 6749 section 5.2 error answer."""
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


@csrf_exempt
def token(request):
    """``/api/token``: the OAuth 2.0 password grant (RFC 6749 section 4.3) for API clients."""
    if request.method != "POST":
        response = grant_error("invalid_request", "Use POST with a form-encoded body.", status=405)
        response["Allow"] = "POST"
        return response
    grant_type = request.POST.get("grant_type")
    if not grant_type:
        return grant_error("invalid_request", "grant_type is required (use grant_type=password).")
    if grant_type != "password":
        logger.warning("API token refused: unsupported grant_type %r", grant_type[:40])
        return grant_error("unsupported_grant_type", "Only grant_type=password is supported.")
    username, password = request.POST.get("username"), request.POST.get("password")
    if not username or not password:
        return grant_error("invalid_request", "username and password are required.")
    app = app_password(request, username, password)
    if app is not None:
        return app_password_grant(app, password)
    try:
        user = sign_in_with_password(request, username, password, SignInEvent.Method.TOKEN)
    except PasswordRefused as error:
        if error.reason == "password_disabled":
            return grant_error("unsupported_grant_type", error.message)
        return grant_error(
            "invalid_grant", error.message, status=429 if error.reason == "rate_limited" else 400
        )
    raw, _ = tokens.issue(user)
    response = JsonResponse(
        {
            "access_token": raw,
            "token_type": "Bearer",
            "expires_in": settings.API_TOKEN_SECONDS,
        }
    )
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def app_password_grant(answer, raw):
    """/api/token's answer to an app password (``access.app_password``): the app password itself is
    the access token, so the app acts with that token's scopes and expiry, even with
    DISABLE_USERPASS_LOGIN, and revoking the token ends it. Apps that sign in only this way
    (mcp-romm) then work for people who have no password here."""
    if isinstance(answer, HttpResponse):  # refused as a wrong password is
        detail = json.loads(answer.content)["detail"]
        return grant_error("invalid_grant", detail, status=429 if answer.status_code == 429 else 400)
    body = {"access_token": raw, "token_type": "Bearer"}
    expires_at = answer.token.expires_at
    if expires_at is not None:
        body["expires_in"] = max(0, int((expires_at - timezone.now()).total_seconds()))
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


@require_GET
def heartbeat(request):
    """``/api/heartbeat``: RomM 5's heartbeat (every section, RomM's empty values for what this
    site does not have), plus ``providers``: each provider's sign-in button."""
    first = get_provider()
    return JsonResponse(
        {
            "SYSTEM": {"VERSION": ROMM_VERSION, "SHOW_SETUP_WIZARD": wizard_open()},
            "METADATA_SOURCES": {
                "ANY_SOURCE_ENABLED": False,
                **{f"{source}_API_ENABLED": False for source in METADATA_SOURCES},
            },
            # RomM lists its library's folders here, to anyone; this site shows its library only
            # to people signed in.
            "FILESYSTEM": {"FS_PLATFORMS": []},
            "EMULATION": {"DISABLE_EMULATOR_JS": True, "DISABLE_RUFFLE_RS": True},
            "FRONTEND": {
                "DISABLE_USERPASS_LOGIN": settings.DISABLE_USERPASS_LOGIN,
                "DISABLE_LOGS_VIEWER": True,
                "YOUTUBE_BASE_URL": "https://www.youtube.com",
                # RomM 4's key, which older romm-ios-app builds still require (in seconds).
                "UPLOAD_TIMEOUT": 600,
            },
            "OIDC": {
                "ENABLED": settings.OIDC_ENABLED,
                "PROVIDER": first.label if first else "",
                "AUTOLOGIN": settings.OIDC_AUTOLOGIN and first is not None,
                "RP_INITIATED_LOGOUT": bool(first and first.rp_initiated_logout),
            },
            "TASKS": {
                key: value
                for task in SCHEDULED_TASKS
                for key, value in ((f"ENABLE_SCHEDULED_{task}", False), (f"SCHEDULED_{task}_CRON", ""))
            },
            "providers": [
                {"name": p.name, "label": p.display_name, "button": p.button_text, "url": p.start_path}
                for p in providers()
            ],
        }
    )
