"""Which role a provider's claims grant: part of the sign-in policy."""

from accounts.errors import SignInError
from accounts.models import Role

MISSING = object()
# The roles OIDC_ROLE_DEFAULT may give: never admin (accounts.checks refuses anything else at start-up).
DEFAULT_ROLES = (Role.VIEWER, Role.EDITOR)


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

    A claim present that matches no ``OIDC_ROLE_*`` value grants ``OIDC_ROLE_DEFAULT`` when set;
    without it, ``SignInError("no_role")``.
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
    if provider.role_default in DEFAULT_ROLES:
        return provider.role_default
    raise SignInError("no_role", f"claim {provider.claim_roles}={sorted(held)!r} matches no OIDC_ROLE_* value")
