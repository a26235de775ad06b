"""System checks: configuration mistakes reported at start-up with what to change.

``python manage.py check`` (and every ``runserver``/``migrate``) runs these. They look
only at settings, never at the network; ``oidc_doctor`` talks to the provider.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.urls import Resolver404, resolve

from accounts import checks_deploy, checks_groups  # noqa: F401  (register their checks)
from accounts.oidc.provider import providers


@register()
def oidc_configuration(app_configs, **kwargs):
    if not settings.OIDC_ENABLED:
        if settings.OIDC_AUTOLOGIN:
            return [
                Warning(
                    "OIDC_AUTOLOGIN is set but OIDC_ENABLED is not, so autologin does nothing.",
                    hint="Set OIDC_ENABLED=true, or remove OIDC_AUTOLOGIN.",
                    id="accounts.W001",
                )
            ]
        return []
    problems = []
    seen_issuers = {}
    for provider in providers():
        problems += _provider_problems(provider)
        issuer = (provider.expected_issuer or provider.discovery_url).rstrip("/")
        if issuer in seen_issuers:
            problems.append(
                Error(
                    f"Providers {seen_issuers[issuer]!r} and {provider.name!r} have the same issuer {issuer}.",
                    hint=f"Give {provider.vars['SERVER_APPLICATION_URL']} its own provider's URL, "
                    "or list the provider once in OIDC_PROVIDERS.",
                    id="accounts.E005",
                )
            )
        seen_issuers.setdefault(issuer, provider.name)
    for variable in settings.OIDC_STRAY_VARIABLES:
        problems.append(
            Error(
                f"{variable} is set, but its provider is not listed in OIDC_PROVIDERS.",
                hint="Add the provider's name to OIDC_PROVIDERS, or remove the variable.",
                id="accounts.E006",
            )
        )
    return problems


def _provider_problems(provider):
    var = provider.vars
    problems = []
    for key, value in (("CLIENT_ID", provider.client_id), ("CLIENT_SECRET", provider.client_secret)):
        if not value:
            problems.append(
                Error(
                    f"{provider.own_var(key)} is required when OIDC_ENABLED is true.",
                    hint=f"Copy the client's {key.replace('_', ' ').lower()} from the provider into "
                    f"{provider.own_var(key)}" + (f" (or {provider.own_var(key)}_FILE)." if key == "CLIENT_SECRET" else "."),
                    id="accounts.E001",
                )
            )
    if not provider.server_url and not provider.metadata_url:
        problems.append(
            Error(
                f"{provider.own_var('SERVER_APPLICATION_URL')} is required when OIDC_ENABLED is true.",
                hint="Authentik: https://auth.example.com/application/o/<slug>/ ; "
                "Authelia: https://auth.example.com",
                id="accounts.E002",
            )
        )
    for key, url in (
        ("SERVER_APPLICATION_URL", provider.server_url),
        ("SERVER_METADATA_URL", provider.metadata_url),
        ("REDIRECT_URI", provider.redirect_uri),
    ):
        if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
            problems.append(
                Error(
                    f"{var[key]}={url!r} is not an http(s) URL.",
                    hint="Write the full URL, starting with https://",
                    id="accounts.E003",
                )
            )
    try:
        served = resolve(provider.callback_path).url_name in ("oidc_callback", "oidc_callback_named")
    except Resolver404:
        served = False
    if not served:
        problems.append(
            Error(
                f"{var['REDIRECT_URI']}={provider.redirect_uri!r}: this site does not serve its path.",
                hint=f"Use {settings.ROMM_BASE_URL}{'/api/oauth/openid' if provider.first else '/api/oauth/openid/' + provider.name}"
                " here and at the provider.",
                id="accounts.E004",
            )
        )
    values = [v for values in provider.role_values.values() for v in values]
    if values and not provider.claim_roles:
        problems.append(
            Error(
                f"OIDC_ROLE_* values are set for {provider.name!r} but {var['CLAIM_ROLES']} is empty, "
                "so they are ignored.",
                hint=f"Set {var['CLAIM_ROLES']}=groups (Authentik and Authelia send groups there).",
                id="accounts.E007",
            )
        )
    if provider.claim_roles and not values and not provider.role_default:
        problems.append(
            Error(
                f"{var['CLAIM_ROLES']} is set but no OIDC_ROLE_VIEWER/EDITOR/ADMIN value is, so every "
                "sign-in that carries the claim would be refused.",
                hint="Set OIDC_ROLE_VIEWER (for example to *), OIDC_ROLE_EDITOR and OIDC_ROLE_ADMIN, "
                "or OIDC_ROLE_DEFAULT=viewer.",
                id="accounts.E008",
            )
        )
    return problems


@register()
def password_login_lockout(app_configs, **kwargs):
    if settings.OIDC_ENABLED or not settings.DISABLE_USERPASS_LOGIN:
        return []
    return [
        Error(
            "DISABLE_USERPASS_LOGIN is true but OIDC_ENABLED is not: nobody can sign in"
            + (" (and OIDC_AUTOLOGIN has no provider to go to)." if settings.OIDC_AUTOLOGIN else "."),
            hint="Set OIDC_ENABLED=true with your provider's OIDC_* values, or DISABLE_USERPASS_LOGIN=false. "
            "To get in meanwhile: python manage.py signin_link <username>.",
            id="accounts.E025",
        )
    ]


@register(deploy=True)
def recheck_lock(app_configs, **kwargs):
    """The session recheck's lock must be shared by every process, or a rotated token is spent twice."""
    rechecked = [p for p in providers() if p.session_recheck_seconds] if settings.OIDC_ENABLED else []
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if not rechecked or not backend.endswith(("LocMemCache", "DummyCache")):
        return []
    return [
        Warning(
            f"{rechecked[0].vars['SESSION_RECHECK_SECONDS']} is on, but the cache is local to each process: "
            "two workers can refresh one session at once, and the provider refuses the refresh token presented "
            "second (a provider built on fosite, as Authelia is, may revoke the whole chain), which ends the session.",
            hint="Set CACHE_URL to a shared cache, for example redis://redis:6379/0 (compose.yml has one).",
            id="accounts.W031",
        )
    ]


@register()
def cache_shared_between_processes(app_configs, **kwargs):
    """Single use of sign-in state, rate limits and the JWKS guard need one cache for all processes."""
    processes = []
    if settings.GUNICORN_WORKERS > 1:
        processes.append(f"GUNICORN_WORKERS={settings.GUNICORN_WORKERS}")
    if settings.SITE_REPLICAS > 1:
        processes.append(f"SITE_REPLICAS={settings.SITE_REPLICAS}")
    if settings.CACHES["default"]["BACKEND"] not in settings.PER_PROCESS_CACHES or not processes:
        return []
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return [
        Warning(
            f"The cache ({backend}) lives inside each process while several processes serve the site "
            f"({', '.join(processes)}): single use of sign-in state, rate limits and the JWKS refetch "
            "guard hold per process only.",
            hint="Set CACHE_URL=redis://<host>:6379/0 (the compose file's redis service), "
            "or run one process (GUNICORN_WORKERS=1).",
            id="accounts.W040",
        )
    ]
