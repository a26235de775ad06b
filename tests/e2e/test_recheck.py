"""Sessions that follow the provider, end to end: the site and the local provider as real processes."""

import re
import threading
import time

import pytest
import requests

from tests.e2e.conftest import RECHECK_SECONDS as INTERVAL
from tests.e2e.test_http_flow import sign_in

pytestmark = pytest.mark.e2e

ENDED = "The identity provider no longer confirms your sign-in"


def at_provider(stack, username, action, groups=()):
    """An administrator changes the person on the provider's people page."""
    browser = requests.Session()
    page = browser.get(f"{stack.provider_url}/demo/people", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    done = browser.post(f"{stack.provider_url}/demo/people/{username}", timeout=10,
                        data={"csrfmiddlewaretoken": token, "action": action, "groups": list(groups)},
                        headers={"Referer": page.url})
    assert 'data-testid="done"' in done.text, done.text


def role(session, stack):
    me = session.get(f"{stack.url}/api/users/me", timeout=10)
    assert me.status_code == 200, me.text
    return me.json()["role"]


def token_requests(stack):
    return sum(1 for line in stack.provider.output if re.search(r'"POST /(application/o/token/|api/oidc/token) ', line))


def test_removal_from_the_admin_group_shows_viewer_after_the_interval(following):
    session, landed = sign_in(following, "alice", next_path="/api/users/me")
    assert landed.json()["role"] == "admin"
    try:
        at_provider(following, "alice", "groups", ["romm-viewers"])
        time.sleep(INTERVAL + 0.2)
        page = session.get(f"{following.url}/", timeout=10)
        assert 'data-testid="role">viewer<' in page.text
        assert not session.get(f"{following.url}/admin/", timeout=10).url.startswith(f"{following.url}/admin/")
        assert role(session, following) == "viewer"
    finally:
        at_provider(following, "alice", "groups", ["romm-admins"])


def test_deactivated_at_the_provider_lands_on_login_with_the_sentence(following):
    session, landed = sign_in(following, "bob", next_path="/api/users/me")
    assert landed.json()["role"] == "editor"
    try:
        at_provider(following, "bob", "deactivate")
        assert role(session, following) == "editor"  # until the next check
        time.sleep(INTERVAL + 0.2)
        page = session.get(f"{following.url}/", timeout=10)
        assert page.url == f"{following.url}/login?local=1"
        assert ENDED in page.text
        assert session.get(f"{following.url}/api/users/me", timeout=10).status_code == 401
    finally:
        at_provider(following, "bob", "activate")


def test_back_channel_logout_from_the_provider_ends_the_session_at_once(following):
    if following.profile != "authentik":
        pytest.skip("Authelia sends no back-channel logout")
    session, landed = sign_in(following, "carol", next_path="/api/users/me")
    assert landed.status_code == 200
    # The person logs out at the provider; its session's logout token reaches the site before this returns.
    session.get(f"{following.provider_url}/if/flow/default-invalidation-flow/", timeout=10)
    after = session.get(f"{following.url}/api/users/me", timeout=10)
    assert after.status_code == 401 and ENDED not in after.text  # not the recheck: the session is gone
    assert any("back-channel logout of carol" in line and "HTTP 200" in line for line in following.provider.output)


def test_an_administrator_ending_the_provider_sessions_signs_the_person_out_here(following):
    if following.profile != "authentik":
        pytest.skip("Authelia sends no back-channel logout")
    session, landed = sign_in(following, "frank", next_path="/api/users/me")
    assert landed.json()["username"] == "frank"
    at_provider(following, "frank", "end_sessions")
    assert session.get(f"{following.url}/api/users/me", timeout=10).status_code == 401


def test_tabs_firing_at_once_spend_the_refresh_token_once(following):
    session, _ = sign_in(following, "carol", next_path="/api/users/me")
    time.sleep(INTERVAL + 0.2)
    before = token_requests(following)
    results, barrier = [], threading.Barrier(6)

    def tab():
        browser = requests.Session()
        browser.cookies.update(session.cookies)
        barrier.wait()
        response = browser.get(f"{following.url}/api/users/me", timeout=20)
        results.append((response.status_code, response.json().get("role")))

    tabs = [threading.Thread(target=tab) for _ in range(6)]
    for thread in tabs:
        thread.start()
    for thread in tabs:
        thread.join()
    assert results == [(200, "viewer")] * 6
    assert token_requests(following) - before == 1
    # The family was not revoked as stolen: the next check refreshes again.
    time.sleep(INTERVAL + 0.2)
    assert role(session, following) == "viewer"
    assert token_requests(following) - before == 2
