"""The session recheck in the configuration checks and in ``oidc_doctor``."""

import pytest
from django.core.checks import run_checks

from romm_site.envvars import EnvReader, read_providers
from tests.accounts.oidc.doctor import findings
from tests.conftest import configure

pytestmark = pytest.mark.usefixtures("deployed_site")

GOOD = {
    "OIDC_PROVIDER": "authentik",
    "OIDC_CLIENT_ID": "romm",
    "OIDC_CLIENT_SECRET": "secret",
    "OIDC_SERVER_APPLICATION_URL": "https://auth.example.com/application/o/romm/",
}
LOCAL = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REDIS = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://redis:6379/0"}}


def deploy_problems(settings, **env):
    settings.OIDC_ENABLED = True
    settings.OIDC_PROVIDER_CONFIGS = read_providers(EnvReader({**GOOD, **env}), settings.ROMM_BASE_URL)
    return {m.id: m for m in run_checks(include_deployment_checks=True) if m.id.startswith("accounts.")}


def test_recheck_with_a_cache_each_process_keeps_for_itself_is_a_deploy_warning(settings):
    settings.CACHES = LOCAL
    found = deploy_problems(settings, OIDC_SESSION_RECHECK_SECONDS="300")
    assert "OIDC_SESSION_RECHECK_SECONDS is on, but the cache is local" in found["accounts.W031"].msg
    assert "CACHE_URL" in found["accounts.W031"].hint
    settings.CACHES = REDIS
    assert "accounts.W031" not in deploy_problems(settings, OIDC_SESSION_RECHECK_SECONDS="300")
    settings.CACHES = LOCAL
    assert "accounts.W031" not in deploy_problems(settings)  # recheck off: nothing to share


def test_doctor_reports_the_recheck_when_the_provider_issues_refresh_tokens(authentik, settings):
    configure(settings, authentik, OIDC_SESSION_RECHECK_SECONDS="300")
    found = findings()[1]
    assert found["recheck"]["level"] == "info"
    assert "every 300 s" in found["recheck"]["message"]
    assert authentik.metadata["revocation_endpoint"] in found["recheck"]["message"]
    assert found["scopes"]["message"].endswith("offline_access.")
    assert "recheck_no_refresh" not in found


def test_doctor_says_nothing_about_the_recheck_when_it_is_off(authentik):
    assert "recheck" not in findings()[1] and "recheck_no_refresh" not in findings()[1]


@pytest.mark.parametrize(
    "profile, remove, words, fix",
    [
        ("authentik", "scopes", "the offline_access scope", "OpenID 'offline_access'"),
        ("authelia", "grants", "the refresh_token grant", "'refresh_token' to its grant_types"),
        ("authelia", "both", "the offline_access scope nor the refresh_token grant", "'offline_access' to the client's scopes"),
    ],
)
def test_doctor_warns_when_the_provider_advertises_no_refresh_tokens(request, settings, profile, remove, words, fix):
    fake = request.getfixturevalue(profile)
    if remove in ("scopes", "both"):
        fake.metadata["scopes_supported"].remove("offline_access")
    if remove in ("grants", "both"):
        fake.metadata["grant_types_supported"].remove("refresh_token")
    configure(settings, fake, OIDC_SESSION_RECHECK_SECONDS="300")
    found = findings(level="warning")[1]
    assert words in found["recheck_no_refresh"]["message"]
    assert "every session here ends at its first check" in found["recheck_no_refresh"]["message"]
    assert fix in found["recheck_no_refresh"]["fix"]
