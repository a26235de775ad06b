"""What a request may do: the one place that turns credentials into a person and permissions.

Content code (``library/``) and the JSON API ask this module; nothing here knows how a
sign-in happened at the provider. ``check_session`` runs before every view (through
``accounts.sessions.middleware.SessionPolicyMiddleware``) and ends a session that may no longer be
used; ``has_role`` and ``role_required`` are the role checks content views use; ``decide``
turns a JSON API request's credentials (session, client or device token, legacy bearer,
HTTP Basic) into an ``Access``, and ``api_view`` is the decorator every JSON endpoint wears.

Credentials are resolved by the functions listed in ``settings.API_CREDENTIAL_RESOLVERS``, in
order, as Django tries ``AUTHENTICATION_BACKENDS``: each takes ``(request, scheme, credentials)``
and returns an ``Access``, a refusal (an ``HttpResponse``) or None when the credentials are not
of its kind. Apps that bring their own credentials (``devices``: app and device tokens) list a
resolver there; this module imports no app.
"""

import logging
from dataclasses import dataclass
from functools import cache, wraps

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt

from accounts.api import bearer as password_tokens
from accounts.api import http as apiauth
from accounts.local.passwords import PasswordRefused, sign_in_with_password
from accounts.models import Role, SignInEvent
from accounts.oidc import recheck
from accounts.sessions.engine import facts_of

logger = logging.getLogger(__name__)

PASSWORD_BACKEND = "accounts.oidc.backend.PasswordBackend"
# Sessions a password opened (the login form, /api/login): DISABLE_USERPASS_LOGIN ends them.
PASSWORD_METHODS = {SignInEvent.Method.PASSWORD, SignInEvent.Method.API}

SESSION_REFUSALS = {
    "password_disabled": (
        "Password sign-in is now turned off on this site (DISABLE_USERPASS_LOGIN), so the session "
        "your password opened has ended. Sign in with the identity provider."
    ),
    # A session from a provider that the provider no longer confirms (accounts.oidc.recheck).
    **recheck.REFUSALS,
}


def session_method(session):
    """``"password"``, ``"api"``, ``"oidc"``, ``"link"`` (break-glass): how this session was opened."""
    method = facts_of(session).get("method")
    if method:
        return method
    # A session opened outside accounts.signin (a shell, a test client): the backend tells.
    return "password" if session.get(BACKEND_SESSION_KEY) == PASSWORD_BACKEND else "oidc"


def check_session(request):
    """The reason this signed-in session must end now (a ``SESSION_REFUSALS`` key), or None.

    Reads only the session already loaded for the request: no query, no provider call, unless
    the session's recheck with its provider is due (``accounts.oidc.recheck``).
    """
    if settings.DISABLE_USERPASS_LOGIN and session_method(request.session) in PASSWORD_METHODS:
        return "password_disabled"
    return recheck.check(request)


def has_role(user, role):
    """True when ``user`` is signed in, active, and holds ``role`` or a higher one."""
    return user.is_authenticated and user.is_active and Role.rank(user.role) >= Role.rank(role)


def role_required(role):
    """View decorator: anonymous people go to /login, lower roles get a 403 page saying why."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(request, *args, **kwargs):
            if not has_role(request.user, role):
                raise PermissionDenied(
                    f"This needs the {role} role and your account has the {request.user.role} role. "
                    "Ask an administrator if you need more access."
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


# --- scopes ---------------------------------------------------------------------------------
# RomM's whole list (``Scope`` in RomM's backend/handler/auth/constants.py; playlists since 5.1),
# so every scope an app asks for is a known one. This site's own data needs me.*, platforms.*,
# roms.* and users.*; the others guard nothing here yet, and roles grant them as RomM's do.
SCOPES = (
    "me.read",
    "me.write",
    "platforms.read",
    "platforms.write",
    "roms.read",
    "roms.write",
    "users.read",
    "users.write",
    "roms.user.read",
    "roms.user.write",
    "assets.read",
    "assets.write",
    "devices.read",
    "devices.write",
    "firmware.read",
    "firmware.write",
    "collections.read",
    "collections.write",
    "playlists.read",
    "playlists.write",
    "tasks.run",
    "logs.read",
)
# RomM's tiers: a viewer gets READ and WRITE (reading everything but accounts and logs, and
# writing their own things), an editor adds EDIT (the library), an admin adds FULL.
_READ = {"me.read", "roms.read", "platforms.read", "assets.read", "devices.read", "firmware.read"}
_READ |= {"roms.user.read", "collections.read", "playlists.read"}
_WRITE = {
    "me.write",
    "assets.write",
    "devices.write",
    "roms.user.write",
    "collections.write",
    "playlists.write",
}
_EDIT = {"roms.write", "platforms.write", "firmware.write"}
_FULL = {"users.read", "users.write", "tasks.run", "logs.read"}
_ROLE_SCOPES = {
    Role.VIEWER: frozenset(_READ | _WRITE),
    Role.EDITOR: frozenset(_READ | _WRITE | _EDIT),
    Role.ADMIN: frozenset(_READ | _WRITE | _EDIT | _FULL),
}


def scopes_for_role(role):
    """The scopes ``role`` grants (docs/apps-and-devices.md); an unknown role grants none."""
    return _ROLE_SCOPES.get(role, frozenset())


def lowest_role_with(scope):
    """The lowest role that grants ``scope``, or None."""
    return next((role for role in Role.values if scope in _ROLE_SCOPES[role]), None)


# --- what a request may do ------------------------------------------------------------------
@dataclass(frozen=True)
class Access:
    """Who is calling and what they may do now.

    ``scopes`` are the credential's granted scopes AND the owner's current role's scopes
    (a session, the legacy bearer and Basic carry their role's scopes).
    """

    user: object
    # "session" | "client_token" | "device_token" | "app_password" | "legacy_bearer" | "basic"
    credential: str
    scopes: frozenset
    token: object = None
    device: object = None

    def allows(self, scope):
        return scope in self.scopes

    def lacking(self, scope):
        """Why ``scope`` is missing: ``"role"`` (the owner's role lacks it) or ``"token"``."""
        return "role" if scope not in scopes_for_role(self.user.role) else "token"


NOT_SIGNED_IN = "Not signed in."


def decide(request):
    """THE one answer to "what may this request do": ``Access``, ``None`` (anonymous) or a refusal.

    Credentials in the Authorization header win over the session cookie: the first resolver of
    ``settings.API_CREDENTIAL_RESOLVERS`` that recognises them answers. Client and device tokens
    (``devices``) work with DISABLE_USERPASS_LOGIN; /api/token's password-grant tokens and HTTP
    Basic passwords stop under it. A cookie-authenticated unsafe request must pass Django's CSRF
    check.
    """
    scheme, credentials = apiauth.authorization(request)
    if scheme:
        for resolve in credential_resolvers(tuple(settings.API_CREDENTIAL_RESOLVERS)):
            answer = resolve(request, scheme, credentials)
            if answer is not None:
                return answer
        logger.warning("API request refused: unsupported Authorization scheme %r", scheme[:20])
        return apiauth.refusal(apiauth.UNKNOWN_SCHEME)
    if request.method not in apiauth.SAFE_METHODS:
        refused = apiauth.csrf_refusal(request)
        if refused is not None:
            return refused
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return Access(user=user, credential="session", scopes=scopes_for_role(user.role))


@cache
def credential_resolvers(paths):
    """The functions ``paths`` (``settings.API_CREDENTIAL_RESOLVERS``) name, imported once."""
    return tuple(import_string(path) for path in paths)


def app_password(request, username, password):
    """What ``password``, if it is an app password (a credential another app's resolver accepts
    over HTTP Basic, e.g. a client token), opens for ``username``: an ``Access``, a refusal, or
    None when it is not one (then it is a password). For the endpoints that take a username and
    a password without the Authorization header (/api/token) or that open a session (/api/login).
    """
    credentials = apiauth.basic_header(username, password)
    for resolve in credential_resolvers(tuple(settings.API_CREDENTIAL_RESOLVERS)):
        if resolve is not password_basic and resolve is not password_bearer:
            answer = resolve(request, "basic", credentials)
            if answer is not None:
                return answer
    return None


def password_bearer(request, scheme, credentials):
    """Resolver: a bearer token from /api/token (the password grant); it stops with passwords."""
    if scheme != "bearer":
        return None
    return _legacy_bearer(credentials)


def password_basic(request, scheme, credentials):
    """Resolver: HTTP Basic with the account's username and password."""
    if scheme != "basic":
        return None
    return _basic(request, credentials)


def _legacy_bearer(raw):
    if settings.DISABLE_USERPASS_LOGIN:
        logger.warning("API bearer token refused: DISABLE_USERPASS_LOGIN is set")
        return apiauth.refusal(apiauth.BEARER_DISABLED)
    token = password_tokens.find(raw)
    if token is None:
        logger.warning("API bearer token refused: unknown, expired or revoked")
        return apiauth.refusal(apiauth.BEARER_INVALID, challenge='Bearer realm="RomM", error="invalid_token"')
    scopes = scopes_for_role(token.user.role)
    return Access(user=token.user, credential="legacy_bearer", scopes=scopes, token=token)


def _basic(request, credentials):
    pair = apiauth.basic_credentials(credentials)
    if pair is None:
        logger.warning("API HTTP Basic refused: malformed header")
        return apiauth.refusal(apiauth.BASIC_MALFORMED)
    try:
        user = sign_in_with_password(request, *pair, SignInEvent.Method.API, record_success=False)
    except PasswordRefused as error:
        return apiauth.password_refusal(error)
    return Access(user=user, credential="basic", scopes=scopes_for_role(user.role))


def scope_refusal(access, scope):
    """The 403 naming the missing ``scope`` and whether the token or the role lacks it."""
    if access.lacking(scope) == "role":
        needed = lowest_role_with(scope)
        detail = (
            f"This needs the {scope} scope, which the {needed} role grants; your account has the "
            f"{access.user.role} role. Ask an administrator if you need more access."
        )
    else:
        detail = (
            f"This needs the {scope} scope, which this token was not granted. Create a token with "
            f"{scope} on your profile page (/profile)."
        )
    logger.warning(
        "API request refused: scope %s missing (%s lacks it) account=%r",
        scope,
        access.lacking(scope),
        access.user.username,
    )
    return JsonResponse({"detail": detail}, status=403)


def api_view(*methods, scope=None):
    """Decorator for JSON API views: allowed methods, then ``decide``, then the scope, then the view.

    ``scope`` is one scope for every method, or a dict method -> scope (a method missing from
    the dict needs none). Sets ``request.access`` (an ``Access`` or None) and ``request.user``.
    """

    def decorator(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                return apiauth.method_not_allowed(request, methods)
            access = decide(request)
            if isinstance(access, HttpResponse):
                return access
            request.access = access
            request.user = access.user if access is not None else AnonymousUser()
            needed = scope.get(request.method) if isinstance(scope, dict) else scope
            if needed is not None:
                if access is None:
                    return apiauth.refusal(NOT_SIGNED_IN)
                if not access.allows(needed):
                    return scope_refusal(access, needed)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
