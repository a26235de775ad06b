"""System checks: each configuration mistake is reported with an id and a hint."""

import pytest
from django.core.checks import run_checks

from romm_site.envvars import EnvReader, read_providers

GOOD = {
    "OIDC_PROVIDER": "authentik",
    "OIDC_CLIENT_ID": "romm",
    "OIDC_CLIENT_SECRET": "secret",
    "OIDC_SERVER_APPLICATION_URL": "https://auth.example.com/application/o/romm/",
}


def problems(settings, environ=None, **env):
    settings.OIDC_ENABLED = True
    variables = {**GOOD, **env}
    variables = {k: v for k, v in variables.items() if v is not None}
    settings.OIDC_PROVIDER_CONFIGS = read_providers(EnvReader(variables), settings.ROMM_BASE_URL)
    return {m.id: m for m in run_checks() if m.id.startswith("accounts.")}


def test_good_configuration_has_no_problems(settings):
    assert problems(settings) == {}


@pytest.mark.parametrize(
    "change, check_id, words",
    [
        ({"OIDC_CLIENT_ID": None}, "accounts.E001", "OIDC_CLIENT_ID is required"),
        ({"OIDC_CLIENT_SECRET": None}, "accounts.E001", "OIDC_CLIENT_SECRET is required"),
        ({"OIDC_SERVER_APPLICATION_URL": None}, "accounts.E002", "OIDC_SERVER_APPLICATION_URL is required"),
        ({"OIDC_SERVER_APPLICATION_URL": "auth.example.com"}, "accounts.E003", "is not an http(s) URL"),
        ({"OIDC_REDIRECT_URI": "https://romm.example.com/oauth/callback"}, "accounts.E004", "does not serve its path"),
        ({"OIDC_ROLE_ADMIN": "admins"}, "accounts.E007", "OIDC_CLAIM_ROLES is empty"),
        ({"OIDC_CLAIM_ROLES": "groups"}, "accounts.E008", "every sign-in that carries the claim would be refused"),
    ],
)
def test_misconfiguration_is_reported(settings, change, check_id, words):
    found = problems(settings, **change)
    assert check_id in found
    assert words in found[check_id].msg
    assert found[check_id].hint


def test_metadata_url_alone_is_enough(settings):
    found = problems(
        settings,
        OIDC_SERVER_APPLICATION_URL=None,
        OIDC_SERVER_METADATA_URL="https://auth.example.com/.well-known/openid-configuration",
    )
    assert found == {}


def test_two_providers_with_one_issuer_are_reported(settings):
    found = problems(
        settings,
        OIDC_PROVIDERS="one,two",
        OIDC_ONE_SERVER_APPLICATION_URL="https://auth.example.com",
        OIDC_TWO_SERVER_APPLICATION_URL="https://auth.example.com/",
    )
    assert "accounts.E005" in found


def test_stray_variable_is_reported(settings):
    settings.OIDC_STRAY_VARIABLES = ["OIDC_KEYCLOAK_CLIENT_ID"]
    found = problems(settings)
    assert "OIDC_KEYCLOAK_CLIENT_ID is set" in found["accounts.E006"].msg


def test_autologin_without_oidc_warns(settings):
    settings.OIDC_ENABLED = False
    settings.OIDC_AUTOLOGIN = True
    assert "accounts.W001" in {m.id for m in run_checks()}


@pytest.mark.parametrize(
    "workers, replicas, cache, reported",
    [
        (4, 1, "django.core.cache.backends.locmem.LocMemCache", True),
        (1, 3, "django.core.cache.backends.locmem.LocMemCache", True),
        (1, 1, "django.core.cache.backends.locmem.LocMemCache", False),
        (4, 3, "django.core.cache.backends.filebased.FileBasedCache", False),
    ],
)
def test_per_process_cache_with_several_processes_warns(settings, tmp_path, workers, replicas, cache, reported):
    settings.GUNICORN_WORKERS, settings.SITE_REPLICAS = workers, replicas
    settings.CACHES = {"default": {"BACKEND": cache, "LOCATION": str(tmp_path)}}
    found = problems(settings)
    assert ("accounts.W040" in found) is reported
    if reported:
        assert "hold per process only" in found["accounts.W040"].msg
        assert "CACHE_URL=redis://" in found["accounts.W040"].hint
