"""A person in headless Chromium: protected page, login page, provider, back signed in; and logout."""

import pytest

from tests.e2e.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def sign_in_at_provider(page, username):
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button:has-text("Log in")')


def test_protected_page_round_trip_with_the_right_role(stack, page, artifacts):
    label = "Sign in with Authentik" if stack.profile == "authentik" else "Sign in with Authelia"
    page.goto(f"{stack.url}/profile")
    assert page.url.startswith(f"{stack.url}/login?next=/profile")
    page.screenshot(path=str(artifacts / f"{stack.profile}-1-login.png"))
    page.click(f"text={label}")
    page.wait_for_url(f"{stack.provider_url}/**")
    page.screenshot(path=str(artifacts / f"{stack.profile}-2-provider.png"))
    sign_in_at_provider(page, "bob")
    page.wait_for_url(f"{stack.url}/profile")
    assert "editor" in page.inner_text("header")
    page.goto(f"{stack.url}/")
    assert page.inner_text('[data-testid="role"]') == "editor"
    page.screenshot(path=str(artifacts / f"{stack.profile}-3-signed-in.png"), full_page=True)


def test_refusal_sentence_is_shown_on_the_login_page(stack, page, artifacts):
    page.goto(f"{stack.url}/login")
    page.click("text=Sign in with")
    page.wait_for_url(f"{stack.provider_url}/**")
    sign_in_at_provider(page, "erin")
    page.wait_for_url(f"{stack.url}/login**")
    assert "groups do not give you access" in page.inner_text('[role="alert"]')
    page.screenshot(path=str(artifacts / f"{stack.profile}-4-refused.png"))


def test_logout_then_sign_in_asks_for_credentials_again(page, stack, artifacts):
    if stack.profile != "authentik":
        pytest.skip("Authelia has no end-session endpoint; covered by the HTTP test")
    page.goto(f"{stack.url}/login")
    page.click("text=Sign in with Authentik")
    sign_in_at_provider(page, "carol")
    page.wait_for_url(f"{stack.url}/")
    page.click("text=Sign out")
    page.click('button:has-text("Sign out")')
    page.wait_for_url(f"{stack.url}/login**")
    assert "signed out here and at Authentik" in page.inner_text('[role="alert"]')
    page.screenshot(path=str(artifacts / f"{stack.profile}-5-signed-out.png"))
    page.click("text=Sign in with Authentik")
    page.wait_for_url(f"{stack.provider_url}/**")
    assert page.is_visible('input[name="password"]')


def test_two_providers_one_account_linked_from_the_profile(two_providers, page, artifacts):
    site = two_providers
    page.goto(f"{site.url}/login")
    buttons = page.locator("a.btn-primary").all_inner_texts()
    assert buttons == ["Sign in with Authentik", "Sign in with Authelia"]
    page.click("text=Sign in with Authentik")
    sign_in_at_provider(page, "carol")
    page.wait_for_url(f"{site.url}/")
    page.goto(f"{site.url}/profile")
    page.click('button:has-text("Authelia")')
    page.wait_for_url(f"{site.second_url}/**")
    page.screenshot(path=str(artifacts / "two-1-authelia-link.png"))
    sign_in_at_provider(page, "carol")
    page.wait_for_url(f"{site.url}/profile")
    assert "now linked" in page.inner_text('[role="alert"]')
    page.screenshot(path=str(artifacts / "two-2-linked.png"), full_page=True)
    # Signed out, the Authelia button now reaches the same account.
    page.goto(f"{site.url}/logout")
    page.click('button:has-text("Sign out")')
    page.wait_for_url(f"{site.url}/login**")
    page.click("text=Sign in with Authelia")
    page.wait_for_url(f"{site.url}/")
    me = page.request.get(f"{site.url}/api/users/me").json()
    assert me["username"] == "carol"
    assert sorted(i["provider"] for i in me["identities"]) == ["authelia", "authentik"]
