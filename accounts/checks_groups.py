"""System checks of what decides who may sign in and into which groups (docs/groups.md):
``OIDC_GROUPS``, ``OIDC_ROLE_DEFAULT`` and ``OIDC_ALLOWED_EMAIL_DOMAINS``, per provider."""

from itertools import combinations

from django.conf import settings
from django.core.checks import Error, Warning, register

from accounts.oidc.email_domains import normalise_entry
from accounts.oidc.groups import pattern_problem
from accounts.oidc.provider import providers
from accounts.oidc.roles import DEFAULT_ROLES


@register()
def groups_and_domains(app_configs, **kwargs):
    if not settings.OIDC_ENABLED:
        return []
    configured = providers()
    problems = []
    for provider in configured:
        problems += _role_default(provider) + _groups(provider) + _domains(provider)
    for one, other in combinations([p for p in configured if p.groups], 2):
        shared = [(a, b) for a in one.groups for b in other.groups if _overlap(a, b)]
        if shared:
            problems.append(
                Warning(
                    f"Providers {one.name!r} and {other.name!r} both mirror groups matching {shared[0][0]} and "
                    f"{shared[0][1]} ({one.vars['GROUPS']}, {other.vars['GROUPS']}): a sign-in through one "
                    "removes the person from those groups unless its own claim carries them.",
                    hint=f"Give each provider patterns of its own: {one.own_var('GROUPS')} and "
                    f"{other.own_var('GROUPS')} (for example {one.name}-* and {other.name}-*).",
                    id="accounts.W051",
                )
            )
    return problems


def _role_default(provider):
    var = provider.vars["ROLE_DEFAULT"]
    if not provider.role_default:
        return []
    if provider.role_default not in DEFAULT_ROLES:
        return [
            Error(
                f"{var}={provider.role_default!r} is not a role a sign-in may be given by default.",
                hint="Use viewer or editor, or leave it empty to refuse a person whose groups match no "
                "OIDC_ROLE_* value. admin is never given by default: name the administrators' group in "
                "OIDC_ROLE_ADMIN.",
                id="accounts.E050",
            )
        ]
    if not provider.claim_roles:
        return [
            Warning(
                f"{var} is set for {provider.name!r} but {provider.vars['CLAIM_ROLES']} is empty, so it does nothing.",
                hint=f"Set {provider.vars['CLAIM_ROLES']}=groups (Authentik and Authelia send groups there), "
                f"or remove {var}.",
                id="accounts.W050",
            )
        ]
    return []


def _groups(provider):
    var = provider.vars["GROUPS"]
    if not provider.groups:
        return []
    problems = []
    if not provider.claim_roles:
        problems.append(
            Error(
                f"{var} is set for {provider.name!r} but {provider.vars['CLAIM_ROLES']} is empty: no claim says "
                "which groups a person is in.",
                hint=f"Set {provider.vars['CLAIM_ROLES']}=groups (Authentik and Authelia send groups there), "
                "and OIDC_ROLE_DEFAULT=viewer if groups should not decide roles.",
                id="accounts.E051",
            )
        )
    for pattern in provider.groups:
        problem = pattern_problem(pattern)
        if problem:
            problems.append(
                Error(
                    f"{var}: {pattern[:60]!r} cannot be used: {problem}.",
                    hint="List group names, comma-separated; a trailing * matches a prefix: kids,family,romm-*",
                    id="accounts.E052",
                )
            )
    if "*" in provider.groups:
        problems.append(
            Warning(
                f"{var} contains *, which mirrors every group: each sign-in through {provider.name!r} removes the "
                "person from every group the provider does not send, the ones made by hand in the admin included.",
                hint="Name the groups, or a prefix of their own (romm-*), so hand-made groups stay as they are.",
                id="accounts.W052",
            )
        )
    return problems


def _domains(provider):
    var = provider.vars["ALLOWED_EMAIL_DOMAINS"]
    return [
        Error(
            f"{var}: {entry[:60]!r} is not a domain name.",
            hint="List domains, comma-separated, each as it follows the @ of an address: example.com,example.org "
            "(no @, no *: a subdomain is listed on its own).",
            id="accounts.E053",
        )
        for entry in provider.allowed_email_domains
        if normalise_entry(entry) is None
    ]


def _overlap(one, other):
    """Whether some group name matches both patterns."""
    if one.endswith("*") and other.endswith("*"):
        return one[:-1].startswith(other[:-1]) or other[:-1].startswith(one[:-1])
    if one.endswith("*"):
        return other.startswith(one[:-1])
    if other.endswith("*"):
        return one.startswith(other[:-1])
    return one == other
