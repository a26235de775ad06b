"""Which role a provider's claims grant (SPEC section 4.5), and views that need a role."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from accounts.errors import SignInError
from accounts.models import Role

MISSING = object()


def claim_value(claims, path):
    """The claim named ``path``, or reached through it as a dotted path; MISSING if absent."""
    if path in claims:
        return claims[path]
    value = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def claim_strings(value):
    """A claim as a list of strings: a list's string items, or a single string or number."""
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value if isinstance(item, (str, int)) and not isinstance(item, bool)]
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [str(value)]
    return []


def resolve_role(provider, claims):
    """The highest role the claims grant; None when role mapping is off or the claim is absent.

    Raises ``SignInError("no_role")`` when the claim is present but grants nothing.
    """
    if not provider.claim_roles:
        return None
    value = claim_value(claims, provider.claim_roles)
    if value is MISSING or value is None:
        return None
    held = set(claim_strings(value))
    for role in reversed(Role.values):
        wanted = provider.role_values.get(role) or []
        if held & set(wanted) or (role == Role.VIEWER and "*" in wanted):
            return role
    raise SignInError("no_role", f"claim {provider.claim_roles}={sorted(held)!r} matches no OIDC_ROLE_* value")


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
