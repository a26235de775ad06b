"""The demo launcher's wiring; running it for real needs ports 8000 and 9000 (see devidp/README.md)."""

import pytest

from devidp import demo
from devidp.__main__ import parse_args


def test_site_environment_points_the_site_at_the_authentik_provider():
    env = demo.site_environment("authentik", {})
    assert env["OIDC_PROVIDER"] == "authentik"
    assert env["OIDC_SERVER_APPLICATION_URL"] == "http://127.0.0.1:9000/application/o/romm/"
    assert env["OIDC_REDIRECT_URI"] == "http://127.0.0.1:8000/api/oauth/openid"
    assert env["OIDC_CLIENT_ID"] == "romm-demo"
    assert env["OIDC_ROLE_ADMIN"] == "romm-admins"
    assert env["DATABASE_URL"].endswith("/.demo/site.sqlite3")


def test_site_environment_points_the_site_at_the_authelia_provider():
    env = demo.site_environment("authelia", {})
    assert env["OIDC_PROVIDER"] == "authelia"
    assert env["OIDC_SERVER_APPLICATION_URL"] == "http://127.0.0.1:9000"


def test_site_environment_drops_the_callers_own_oidc_settings():
    env = demo.site_environment(
        "authentik", {"OIDC_PROVIDERS": "a,b", "DJANGO_SETTINGS_MODULE": "x", "PATH": "/bin"}
    )
    assert "OIDC_PROVIDERS" not in env
    assert "DJANGO_SETTINGS_MODULE" not in env
    assert env["PATH"] == "/bin"


@pytest.mark.parametrize("profile", ["authentik", "authelia"])
def test_the_provider_is_registered_with_the_sites_uris(profile):
    args = parse_args(demo.provider_command(profile)[3:])
    assert args.profile == profile
    assert args.port == 9000
    assert args.redirect_uri == [demo.site_environment(profile, {})["OIDC_REDIRECT_URI"]]
    assert args.post_logout_redirect_uri == [
        demo.site_environment(profile, {})["OIDC_POST_LOGOUT_REDIRECT_URI"]
    ]
    assert args.client_secret == demo.site_environment(profile, {})["OIDC_CLIENT_SECRET"]


@pytest.mark.parametrize("profile", ["authentik", "authelia"])
def test_the_demo_sessions_follow_the_provider(profile):
    env = demo.site_environment(profile, {})
    args = parse_args(demo.provider_command(profile)[3:])
    assert int(env["OIDC_SESSION_RECHECK_SECONDS"]) > 0
    assert args.offline_access is True  # or Authelia would refuse the offline_access the site asks for
    assert args.backchannel_logout_uri == env["ROMM_BASE_URL"] + "/api/oauth/backchannel-logout"
    assert "/demo/people" in demo.banner(profile)
