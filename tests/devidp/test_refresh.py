"""Refresh tokens and changes at the provider, as PROVIDERS.md "Refresh tokens" describes both products."""

import re

import requests

from tests.devidp.flow import authorize, basic_auth, sign_in, verify_id_token

OFFLINE = "openid email profile groups offline_access"


def refresh(idp, refresh_token):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return requests.post(idp.discovery["token_endpoint"], data=data, auth=basic_auth(idp), timeout=5)


def change(idp, username, action, groups=()):
    """What an administrator does on the provider's people page."""
    session = requests.Session()
    page = session.get(idp.base_url + "/demo/people", timeout=5)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(
        f"{idp.base_url}/demo/people/{username}",
        data={"csrfmiddlewaretoken": token, "action": action, "groups": list(groups)},
        headers={"Referer": page.url},
        timeout=5,
    )
    assert response.status_code == 200 and 'data-testid="done"' in response.text, response.text
    return response


def groups_after_refresh(idp, tokens):
    """The groups a client sees after a refresh: in the ID token (Authentik) or userinfo (Authelia)."""
    claims = verify_id_token(idp, tokens["id_token"])
    if idp.profile == "authentik":
        return claims["groups"]
    assert "groups" not in claims  # claims hydration: as at sign-in
    userinfo = requests.get(idp.discovery["userinfo_endpoint"],
                            headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=5)
    return userinfo.json()["groups"]


def test_without_the_client_setting_there_is_no_refresh_token(devidp):
    if devidp.profile == "authelia":
        query, _ = authorize(devidp, scope=OFFLINE)
        assert query["error"] == "invalid_scope"
    else:
        tokens, _, _ = sign_in(devidp, scope=OFFLINE.replace(" groups", ""))  # the scope is dropped
        assert "refresh_token" not in tokens
    # Authelia lists the scope globally; Authentik only with its mapping selected on the provider.
    assert ("offline_access" in devidp.discovery["scopes_supported"]) == (devidp.profile == "authelia")


def test_a_refresh_token_only_for_offline_access(offline_idp):
    scope = "openid email profile groups" if offline_idp.profile == "authelia" else "openid email profile"
    tokens, _, _ = sign_in(offline_idp, "carol", scope=scope)
    assert "refresh_token" not in tokens
    tokens, _, _ = sign_in(offline_idp, "carol", scope=OFFLINE)
    assert tokens["refresh_token"]
    assert "offline_access" in offline_idp.discovery["scopes_supported"]
    assert offline_idp.discovery["revocation_endpoint"].startswith(offline_idp.base_url)


def test_refresh_rotates_and_a_reused_token_revokes_the_family(offline_idp):
    tokens, _, _ = sign_in(offline_idp, "carol", scope=OFFLINE)
    first = tokens["refresh_token"]
    rotated = refresh(offline_idp, first)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["refresh_token"]
    assert second != first
    refreshed = verify_id_token(offline_idp, rotated.json()["id_token"])
    assert "nonce" not in refreshed
    if offline_idp.profile == "authentik":
        assert refreshed["sid"] == verify_id_token(offline_idp, tokens["id_token"])["sid"]  # the same session
    reused = refresh(offline_idp, first)
    assert reused.status_code in (400, 401) and reused.json()["error"] == "invalid_grant"
    # Theft suspected: the token issued after the reused one stops working too.
    assert refresh(offline_idp, second).json()["error"] == "invalid_grant"


def test_group_changes_at_the_provider_reach_the_next_refresh(offline_idp):
    tokens, _, _ = sign_in(offline_idp, "bob", scope=OFFLINE)
    try:
        change(offline_idp, "bob", "groups", ["romm-viewers"])
        refreshed = refresh(offline_idp, tokens["refresh_token"]).json()
        assert groups_after_refresh(offline_idp, refreshed) == ["romm-viewers"]
    finally:
        change(offline_idp, "bob", "groups", ["romm-editors"])


def test_a_deactivated_person_loses_every_token(offline_idp):
    tokens, _, _ = sign_in(offline_idp, "frank", scope=OFFLINE)
    try:
        page = change(offline_idp, "frank", "deactivate")
        assert "frank is deactivated" in page.text
        refused = refresh(offline_idp, tokens["refresh_token"])
        assert refused.json()["error"] == "invalid_grant"
    finally:
        change(offline_idp, "frank", "activate")


def test_revocation_ends_a_refresh_token(offline_idp):
    tokens, _, _ = sign_in(offline_idp, "carol", scope=OFFLINE)
    revoked = requests.post(offline_idp.discovery["revocation_endpoint"], auth=basic_auth(offline_idp), timeout=5,
                            data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"})
    assert revoked.status_code == 200
    assert refresh(offline_idp, tokens["refresh_token"]).json()["error"] == "invalid_grant"
