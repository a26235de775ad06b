"""The JSON API of SPEC section 3."""

import logging

from django.conf import settings
from django.contrib import auth
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from accounts import tokens
from accounts.access import api_view
from accounts.apiauth import (
    BASIC_MALFORMED,
    authorization,
    basic_credentials,
    method_not_allowed,
    password_refusal,
    refusal,
)
from accounts.models import OIDCSession, SignInEvent
from accounts.passwords import PasswordRefused, open_session, sign_in_with_password
from accounts.provider import get_provider, providers
from accounts.recheck import revoke_at_logout
from accounts.sessions import forget_session
from accounts.setup import wizard_open

logger = logging.getLogger(__name__)


def user_json(user):
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "role": user.role,
        "is_active": user.is_active,
        "identities": [
            {"provider": i.provider, "issuer": i.issuer, "subject": i.subject} for i in user.identities.all()
        ],
    }


@api_view("GET", scope="me.read")
def users_me(request):
    """``/api/users/me``: the signed-in account (and the device, for a device's token), or 401."""
    body = user_json(request.user)
    if request.access.device is not None:
        body["current_device_id"] = request.access.device.pk
    return JsonResponse(body)


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
    try:
        user = sign_in_with_password(request, *pair, SignInEvent.Method.API, record_success=False)
        open_session(request, user, SignInEvent.Method.API)
    except PasswordRefused as error:
        return password_refusal(error)
    return JsonResponse({"detail": "Signed in.", "user": user_json(user)})


@api_view("POST")
def logout(request):
    """``/api/logout``: ends the session, or revokes the bearer token the request used."""
    access = request.access
    if access is not None and access.token is not None:
        # A token request signs out by revoking the token it used (a password-grant token, or
        # an app's or device's token): every token model has ``revoked``.
        type(access.token).objects.filter(pk=access.token.pk).update(revoked=True)
        logger.info("%s %s of %r revoked by /api/logout", access.credential, access.token.pk, request.user.username)
        return JsonResponse({"detail": "Token revoked."})
    session_key = request.session.session_key
    oidc_session = OIDCSession.objects.filter(session_key=session_key or "").first()
    auth.logout(request)
    forget_session(session_key)
    revoke_at_logout(oidc_session)
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


@require_GET
def heartbeat(request):
    """``/api/heartbeat``: what a client needs before signing in, with RomM's key names."""
    first = get_provider()
    return JsonResponse(
        {
            "SYSTEM": {"SHOW_SETUP_WIZARD": wizard_open()},
            "FRONTEND": {"DISABLE_USERPASS_LOGIN": settings.DISABLE_USERPASS_LOGIN},
            "OIDC": {
                "ENABLED": settings.OIDC_ENABLED,
                "PROVIDER": first.label if first else "",
                "AUTOLOGIN": settings.OIDC_AUTOLOGIN and first is not None,
                "RP_INITIATED_LOGOUT": bool(first and first.rp_initiated_logout),
            },
            "providers": [
                {"name": p.name, "label": p.display_name, "button": p.button_text, "url": p.start_path}
                for p in providers()
            ],
        }
    )
