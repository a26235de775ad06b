"""/profile/sessions in headless Chromium: this browser marked, the other session listed with its
way in, and its Sign out button taking it off the list."""

import pytest
import requests

from tests.e2e.test_browser import sign_in_at_provider
from tests.e2e.test_http_flow import sign_in

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1"
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def test_the_person_sees_where_they_are_signed_in_and_signs_another_session_out(stack, page, tmp_path):
    if stack.profile != "authentik":
        pytest.skip("one provider is enough for the page; the HTTP test covers both")
    other = requests.Session()
    other.headers["User-Agent"] = IPHONE
    sign_in(stack, "bob", session=other)
    page.goto(f"{stack.url}/login")
    page.click("text=Sign in with Authentik")
    sign_in_at_provider(page, "bob")
    page.wait_for_url(f"{stack.url}/")
    page.goto(f"{stack.url}/profile")
    page.click("text=See your sessions")
    page.wait_for_url(f"{stack.url}/profile/sessions")
    this = page.locator("tr[data-this-browser]")
    assert this.locator('[data-testid="this-browser"]').inner_text() == "this browser"
    assert "HeadlessChrome on Linux" in this.inner_text() and "Authentik" in this.inner_text()
    row = page.locator('tr[data-testid="session"]', has_text="Mobile Safari on iOS")
    assert row.count() == 1
    assert row.locator('[data-testid="way-in"]').inner_text() == "Authentik"
    assert page.locator("text=Sign out everywhere else").is_visible()
    page.screenshot(path=str(tmp_path / "sessions.png"), full_page=True)
    print(f"screenshot: {tmp_path / 'sessions.png'}")
    row.locator('button:has-text("Sign out")').click()
    page.wait_for_url(f"{stack.url}/profile/sessions")
    assert "Mobile Safari on iOS at 127.0.0.1 is signed out." in page.inner_text('[role="alert"]')
    assert page.locator('tr[data-testid="session"]', has_text="Mobile Safari on iOS").count() == 0
    page.screenshot(path=str(tmp_path / "sessions-after.png"), full_page=True)
    assert other.get(f"{stack.url}/api/users/me", timeout=10).status_code == 401
