"""The whole sign-in over real HTTP, browser-less: requests follows the redirects a browser would."""

import re
from urllib.parse import urljoin

import pytest
import requests

from tests.e2e.conftest import PASSWORD

pytestmark = pytest.mark.e2e


def submit_provider_login(session, page, username):
    """Fill the provider's login form on ``page`` and follow where it leads."""
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    next_value = re.search(r'name="next" value="([^"]*)"', page.text)
    data = {"csrfmiddlewaretoken": token, "username": username, "password": PASSWORD}
    if next_value:
        data["next"] = next_value.group(1).replace("&amp;", "&")
    return session.post(page.url, data=data, headers={"Referer": page.url}, timeout=10)


def sign_in(stack, username, next_path="/", session=None):
    session = session or requests.Session()
    login_page = session.get(f"{stack.url}/login?next={next_path}", timeout=10)
    button = re.search(r'<a class="btn btn-primary" href="([^"]+)">Sign in with', login_page.text).group(1)
    provider_page = session.get(urljoin(stack.url, button.replace("&amp;", "&")), timeout=10)
    assert provider_page.url.startswith(stack.provider_url)
    return session, submit_provider_login(session, provider_page, username)


@pytest.mark.parametrize(
    "person, role", [("alice", "admin"), ("bob", "editor"), ("carol", "viewer")]
)
def test_sign_in_lands_on_next_with_the_role_from_groups(stack, person, role):
    session, landed = sign_in(stack, person, next_path="/api/users/me")
    assert landed.url == f"{stack.url}/api/users/me"
    me = landed.json()
    assert (me["username"], me["role"], me["email"]) == (person, role, f"{person}@example.com")
    assert me["identities"][0]["issuer"] == stack.issuer


def test_verified_email_links_the_existing_local_account(stack):
    session, landed = sign_in(stack, "frank", next_path="/api/users/me")
    assert landed.json()["username"] == "frank"


def test_person_in_no_mapped_group_is_told_why(stack):
    session, landed = sign_in(stack, "erin")
    assert landed.url.startswith(f"{stack.url}/login")
    assert "groups do not give you access" in landed.text
    assert session.get(f"{stack.url}/api/users/me", timeout=10).status_code == 401


def test_unverified_email_is_refused_with_the_authentik_fix(stack):
    if stack.profile != "authentik":
        pytest.skip("Authelia always reports email_verified true")
    session, landed = sign_in(stack, "dave")
    assert "says your email address is not verified" in landed.text
    assert "scope mapping" in landed.text


def test_registration_off_refuses_a_new_person(closed_stack):
    session, landed = sign_in(closed_stack, "carol")
    assert "new accounts cannot be created by signing in" in landed.text


def test_logout_ends_the_provider_session_when_rp_logout_is_on(stack):
    session, landed = sign_in(stack, "carol", next_path="/api/users/me")
    assert landed.status_code == 200
    home = session.get(f"{stack.url}/logout", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', home.text).group(1)
    after = session.post(f"{stack.url}/logout", data={"csrfmiddlewaretoken": token},
                         headers={"Referer": f"{stack.url}/logout"}, timeout=10)
    assert after.url.startswith(f"{stack.url}/login")
    assert session.get(f"{stack.url}/api/users/me", timeout=10).status_code == 401
    if stack.profile == "authentik":
        assert "You are signed out here and at Authentik." in after.text
    # The next sign-in: Authentik asks for credentials again; Authelia (no end-session) does not.
    login_page = session.get(f"{stack.url}/login?local=1", timeout=10)
    button = re.search(r'href="(/api/login/openid[^"]*)"', login_page.text).group(1)
    again = session.get(urljoin(stack.url, button), timeout=10)
    asks_for_password = 'name="password"' in again.text and again.url.startswith(stack.provider_url)
    assert asks_for_password == (stack.profile == "authentik")
