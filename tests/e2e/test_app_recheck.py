"""App tokens follow the provider, end to end: the site and the local provider as real processes.

A person signs in once, makes an app token and connects a device (RFC 8628), then logs out:
from then on only apps act for them. What the provider's administrator does next must reach
those tokens within OIDC_SESSION_RECHECK_SECONDS.
"""

import re
import threading
import time

import pytest
import requests

from tests.e2e.conftest import RECHECK_SECONDS as INTERVAL
from tests.e2e.test_http_flow import sign_in
from tests.e2e.test_recheck import at_provider, token_requests

pytestmark = pytest.mark.e2e

GONE = "The identity provider no longer confirms your account"
SCOPES = ["me.read", "platforms.read", "platforms.write"]


def csrf(browser):
    return {"X-CSRFToken": browser.cookies["csrftoken"]}


def app_token(stack, browser):
    role = browser.get(f"{stack.url}/api/users/me", timeout=10).json()["role"]
    scopes = SCOPES if role != "viewer" else [scope for scope in SCOPES if scope.endswith(".read")]
    made = browser.post(f"{stack.url}/api/client-tokens", json={"name": "script", "scopes": scopes, "expires_in": "never"},
                        headers=csrf(browser), timeout=10)
    assert made.status_code == 201, made.text
    return made.json()["raw_token"]


def device_token(stack, browser):
    """The device flow as an app runs it, approved in the signed-in browser."""
    init = requests.post(f"{stack.url}/api/auth/device/init", timeout=10, json={
        "client_device_identifier": f"deck-{time.monotonic_ns()}", "name": "Deck", "client": "grout",
        "requested_scopes": SCOPES,
    }).json()
    approved = browser.post(f"{stack.url}/pair/device", data={"user_code": init["user_code"], "decision": "approve"},
                            headers=csrf(browser), timeout=10)
    assert approved.url == f"{stack.url}/profile", approved.text
    poll = requests.post(f"{stack.url}/api/auth/device/token", json={"device_code": init["device_code"]}, timeout=10)
    assert poll.status_code == 200, poll.text
    return poll.json()["access_token"]


def apps_only(stack, person, logout=True):
    """``person`` signs in, makes an app token and connects a device, then (by default) logs out."""
    browser, _ = sign_in(stack, person, next_path="/api/users/me")
    raw, device = app_token(stack, browser), device_token(stack, browser)
    if logout:
        browser.post(f"{stack.url}/logout", headers=csrf(browser), timeout=10)  # and at the provider, if RP logout is on
        assert browser.get(f"{stack.url}/api/users/me", timeout=10).status_code == 401
    return browser, raw, device


def me(stack, raw):
    return requests.get(f"{stack.url}/api/users/me", headers={"Authorization": f"Bearer {raw}"}, timeout=20)


def new_platform(stack, raw):
    return requests.post(f"{stack.url}/api/platforms", json={"name": f"Console {time.monotonic_ns()}"},
                         headers={"Authorization": f"Bearer {raw}"}, timeout=20)


def test_an_app_only_person_demoted_at_the_provider_loses_the_write_after_the_interval(following):
    _, raw, device = apps_only(following, "bob")
    assert new_platform(following, raw).status_code == 201
    try:
        at_provider(following, "bob", "groups", ["romm-viewers"])
        time.sleep(INTERVAL + 0.2)
        refused = new_platform(following, device)
        assert refused.status_code == 403 and "the editor role grants" in refused.json()["detail"]
        assert me(following, raw).json()["role"] == "viewer"
    finally:
        at_provider(following, "bob", "groups", ["romm-editors"])


def test_deactivated_at_the_provider_every_app_token_is_revoked(following):
    _, raw, device = apps_only(following, "carol")
    try:
        at_provider(following, "carol", "deactivate")
        time.sleep(INTERVAL + 0.2)
        refused = me(following, raw)
        assert refused.status_code == 401 and GONE in refused.json()["detail"]
        assert "signed out" not in refused.json()["detail"]
        assert me(following, device).status_code == 401
    finally:
        at_provider(following, "carol", "activate")
    assert me(following, raw).status_code == 401 and me(following, device).status_code == 401  # for good


def test_simultaneous_uses_of_a_token_refresh_once(following):
    at_provider(following, "erin", "groups", ["romm-viewers"])
    try:
        _, raw, _ = apps_only(following, "erin")
        at_provider(following, "erin", "groups", ["romm-editors"])
        time.sleep(INTERVAL + 0.2)
        before = token_requests(following)
        results, barrier = [], threading.Barrier(6)

        def app():
            barrier.wait()
            response = me(following, raw)
            results.append((response.status_code, response.json().get("role")))

        apps = [threading.Thread(target=app) for _ in range(6)]
        for thread in apps:
            thread.start()
        for thread in apps:
            thread.join()
        assert results == [(200, "editor")] * 6
        assert token_requests(following) - before == 1
        time.sleep(INTERVAL + 0.2)  # the chain was not revoked as stolen: the next check works too
        assert me(following, raw).json()["role"] == "editor"
        assert token_requests(following) - before == 2
    finally:
        at_provider(following, "erin", "groups", ["staff"])


def test_a_session_and_the_apps_of_one_sign_in_keep_each_other_alive(following):
    browser, raw, _ = apps_only(following, "frank", logout=False)
    for _ in range(3):
        time.sleep(INTERVAL + 0.2)
        assert me(following, raw).status_code == 200
        time.sleep(INTERVAL + 0.2)
        assert browser.get(f"{following.url}/api/users/me", timeout=20).status_code == 200
        assert me(following, raw).status_code == 200


def test_back_channel_logout_naming_the_person_revokes_the_app_tokens(following):
    if following.profile != "authentik":
        pytest.skip("Authelia sends no back-channel logout")
    _, raw, device = apps_only(following, "alice")
    assert me(following, raw).status_code == 200
    at_provider(following, "alice", "logout_person")
    assert me(following, raw).status_code == 401 and me(following, device).status_code == 401
    assert any("back-channel logout of alice (by sub)" in line and "HTTP 200" in line for line in following.provider.output)


def test_an_administrator_unlinking_the_identity_revokes_the_app_tokens(following):
    _, raw, device = apps_only(following, "bob")
    person = me(following, raw).json()["id"]
    admin, _ = sign_in(following, "alice", next_path="/admin/accounts/user/")
    page = admin.get(f"{following.url}/admin/accounts/user/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    done = admin.post(f"{following.url}/admin/accounts/user/", timeout=10, headers={"Referer": page.url},
                      data={"csrfmiddlewaretoken": token, "action": "unlink_identities", "_selected_action": [person]})
    assert "Unlinked 1 identity(ies)" in done.text
    assert me(following, raw).status_code == 401 and me(following, device).status_code == 401
