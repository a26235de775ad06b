"""The JSON API's wire details: the Authorization header, the refusal JSON, CSRF, 404, 405.

Who the caller is and what they may do is decided in ``accounts.api.access.decide``; this module
only reads and answers HTTP. Bearer and Basic requests carry their own credentials, which a
browser never adds to a cross-site request, so they skip the CSRF check; a request that relies
on the session cookie gets Django's CSRF check on every unsafe method, as a form would. No answer ever challenges
with ``WWW-Authenticate: Basic``: a browser would then prompt, remember the password and
attach it to cross-site requests too, making Basic as ambient as a cookie.
"""

import base64
import binascii
import logging

from django.http import JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger(__name__)

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
BEARER_DISABLED = (
    "Password sign-in is turned off on this site (DISABLE_USERPASS_LOGIN), so API tokens from "
    "/api/token are refused. Sign in with the identity provider instead."
)
BEARER_INVALID = "The API token is unknown, expired or revoked. Request a new one from /api/token."
BASIC_MALFORMED = "The Authorization header is not valid HTTP Basic (base64 of username:password)."
UNKNOWN_SCHEME = "Use Authorization: Bearer <token> or HTTP Basic, or sign in with a session."


def refusal(detail, status=401, challenge='Bearer realm="RomM"'):
    response = JsonResponse({"detail": detail}, status=status)
    if status == 401 and challenge:
        response["WWW-Authenticate"] = challenge
    return response


def authorization(request):
    """The request's ``(scheme, credentials)``, scheme lower-cased; ``("", "")`` without one."""
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    return scheme.lower(), credentials.strip()


def basic_credentials(credentials):
    """``(username, password)`` from HTTP Basic credentials, or None when malformed."""
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # ValueError: non-ASCII header (UnicodeDecodeError is one)
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon and username else None


def basic_header(username, password):
    """The credentials part of an HTTP Basic header for this pair."""
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def password_refusal(error):
    """The JSON answer to a refused password: 429 when rate-limited, else 401."""
    if error.reason == "rate_limited":
        return refusal(error.message, status=429)
    return refusal(error.message)


def csrf_refusal(request):
    """A 403 JSON answer when a cookie-authenticated unsafe request fails Django's CSRF check."""
    check = CsrfViewMiddleware(lambda request: None)
    check.process_request(request)
    if check.process_view(request, None, (), {}) is None:
        return None
    logger.warning("API request refused: CSRF check failed for %s", request.path)
    return JsonResponse(
        {"detail": "CSRF check failed: send the X-CSRFToken header with the csrftoken cookie's value."},
        status=403,
    )


@csrf_exempt  # it changes nothing; Django's CSRF refusal would be an HTML page
def unknown_path(request, path=""):
    """JSON 404 for a path under /api/ that nothing serves, worded exactly as RomM's server does:
    apps tell it ("Not Found") apart from a missing object, whose sentence names the object."""
    return JsonResponse({"detail": "Not Found"}, status=404)


def method_not_allowed(request, methods):
    response = JsonResponse({"detail": f"Method {request.method} is not allowed."}, status=405)
    response["Allow"] = ", ".join(methods)
    return response
