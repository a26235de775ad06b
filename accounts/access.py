"""What a request may do: the one place that turns credentials into a person and permissions.

Content code (``library/``) and the JSON API ask this module; nothing here knows how a
sign-in happened at the provider. ``check_session`` runs before every view (through
``accounts.middleware.SessionPolicyMiddleware``) and ends a session that may no longer be
used; ``has_role`` and ``role_required`` are the role checks content views use.
"""

import logging
from functools import wraps

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from accounts import recheck
from accounts.models import Role

logger = logging.getLogger(__name__)

# How the session was opened, stored in the session by the view that opened it.
SIGNIN_METHOD = "signin_method"
PASSWORD_BACKEND = "accounts.backend.PasswordBackend"

SESSION_REFUSALS = {
    "password_disabled": (
        "Password sign-in is now turned off on this site (DISABLE_USERPASS_LOGIN), so the session "
        "your password opened has ended. Sign in with the identity provider."
    ),
    # A session from a provider that the provider no longer confirms (SPEC section 7).
    **recheck.REFUSALS,
}


def session_method(session):
    """``"password"``, ``"oidc"``, ``"link"`` (break-glass) …: how this session was opened."""
    method = session.get(SIGNIN_METHOD)
    if method:
        return method
    # Sessions from before the marker existed: the backend tells password from OIDC.
    return "password" if session.get(BACKEND_SESSION_KEY) == PASSWORD_BACKEND else "oidc"


def check_session(request):
    """The reason this signed-in session must end now (a ``SESSION_REFUSALS`` key), or None.

    Reads only the session already loaded for the request: no query, no provider call, unless
    the session's recheck with its provider is due (``accounts.recheck``).
    """
    if settings.DISABLE_USERPASS_LOGIN and session_method(request.session) == "password":
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
