"""/profile/sessions over real HTTP, whichever worker process serves each request (CI runs this
under gunicorn with several workers, PostgreSQL and Redis): a session signed out there is
anonymous on every next request, and nobody else's is touched."""

import re
import secrets

import pytest
import requests

from tests.e2e.test_http_flow import sign_in
from tests.e2e.test_processes import every_worker_answers

pytestmark = pytest.mark.e2e

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ROW = re.compile(r'<tr data-testid="session"( data-this-browser)?>(.*?)</tr>', re.S)


def firefox_on_windows():
    """A User-Agent that reads "Firefox on Windows" and that no other test's session has."""
    return f"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{secrets.randbelow(50) + 100}.0) Gecko/20100101 Firefox/134.0"


def browser_with(user_agent):
    session = requests.Session()
    session.headers["User-Agent"] = user_agent
    return session


def sessions_page(stack, browser):
    page = browser.get(f"{stack.url}/profile/sessions", timeout=10)
    assert page.status_code == 200 and page.url == f"{stack.url}/profile/sessions"
    return page


def test_a_session_signed_out_from_the_page_is_anonymous_in_every_worker(stack):
    first, _ = sign_in(stack, "carol", session=browser_with("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) "
                                                            "Gecko/20100101 Firefox/133.0"))
    second, _ = sign_in(stack, "carol", session=browser_with(firefox_on_windows()))
    others, _ = sign_in(stack, "bob", session=browser_with(firefox_on_windows()))
    for browser in (first, second, others):
        assert set(every_worker_answers(stack, browser)) == {200}
    page = sessions_page(stack, first)
    assert second.cookies["romm_session"] not in page.text and first.cookies["romm_session"] not in page.text
    (row,) = [row for _, row in ROW.findall(page.text) if "Firefox on Windows" in row]
    action = re.search(r'action="(/profile/sessions/[0-9a-f]{32}/sign-out)"', row).group(1)
    signed_out = first.post(stack.url + action, data={"csrfmiddlewaretoken": CSRF.search(page.text).group(1)},
                            headers={"Referer": f"{stack.url}/profile/sessions"}, timeout=10)
    assert signed_out.url == f"{stack.url}/profile/sessions" and "Firefox on Windows at 127.0.0.1 is signed out" in (
        signed_out.text)
    assert set(every_worker_answers(stack, second)) == {401}
    assert set(every_worker_answers(stack, first)) == {200}
    assert set(every_worker_answers(stack, others)) == {200}
    assert "Firefox on Windows" not in sessions_page(stack, first).text
