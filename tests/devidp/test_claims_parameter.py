"""The claims request parameter (OpenID Connect Core 5.5): Authelia 4.39 advertises and honours it
as far as the granted scopes allow; Authentik does not advertise it."""

import json

import pytest
import requests

from tests.devidp.flow import sign_in, verify_id_token
from tests.devidp.test_refresh import OFFLINE, change, refresh

NAMED = ("email", "email_verified", "preferred_username", "groups", "name")
CLAIMS = json.dumps({"id_token": dict.fromkeys(NAMED)})


def test_only_the_authelia_profile_advertises_it(devidp):
    assert devidp.discovery["claims_parameter_supported"] is (devidp.profile == "authelia")


def test_authelia_puts_exactly_the_named_claims_in_the_id_token(authelia_idp):
    _, claims, userinfo = sign_in(authelia_idp, "bob", claims=CLAIMS)
    assert {name: claims[name] for name in NAMED} == {
        "email": "bob@example.com",
        "email_verified": True,
        "preferred_username": "bob",
        "groups": ["romm-editors"],
        "name": "Bob Berg",
    }
    assert {name: userinfo[name] for name in NAMED} == {name: claims[name] for name in NAMED}
    _, claims, _ = sign_in(authelia_idp, "bob", claims=json.dumps({"id_token": {"email": {"essential": True}}}))
    assert claims["email"] == "bob@example.com" and not {"name", "groups", "preferred_username"} & set(claims)


def test_authelia_names_nothing_the_granted_scopes_do_not_release(authelia_idp):
    _, claims, _ = sign_in(authelia_idp, "carol", scope="openid email profile", claims=CLAIMS)
    assert "groups" not in claims
    assert claims["email"] == "carol@example.com"


def test_authentik_ignores_it(authentik_idp):
    _, claims, _ = sign_in(authentik_idp, "alice", claims=json.dumps({"id_token": {"email": None}}))
    assert claims["groups"] == ["romm-admins"] and claims["nickname"] == "alice"


def test_authelia_refreshed_id_token_repeats_the_values_of_the_sign_in(offline_idp):
    if offline_idp.profile != "authelia":
        pytest.skip("Authentik's refreshed ID token carries the current claims")
    tokens, claims, _ = sign_in(offline_idp, "bob", scope=OFFLINE, claims=CLAIMS)
    assert claims["groups"] == ["romm-editors"]
    try:
        change(offline_idp, "bob", "groups", ["romm-viewers"])
        refreshed = refresh(offline_idp, tokens["refresh_token"]).json()
        assert verify_id_token(offline_idp, refreshed["id_token"])["groups"] == ["romm-editors"]
        userinfo = requests.get(offline_idp.discovery["userinfo_endpoint"],
                                headers={"Authorization": f"Bearer {refreshed['access_token']}"}, timeout=5).json()
        assert userinfo["groups"] == ["romm-viewers"]
    finally:
        change(offline_idp, "bob", "groups", ["romm-editors"])
