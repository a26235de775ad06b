"""The cast of the session tests: alice (two browsers) and bob, signed in through the fake provider."""

import re
from html import unescape

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tests.conftest import sign_in

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1"
)
EDGE_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36 Edg/131.0.0.0"
)
ROW = re.compile(r'<tr data-testid="session"( data-this-browser)?>(.*?)</tr>', re.S)
CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)
SIGN_OUT = re.compile(r'action="/profile/sessions/([^/"]+)/sign-out"')


def key_of(browser):
    return browser.cookies[django_settings.SESSION_COOKIE_NAME].value


def text(html):
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def rows_of(page):
    """The sessions table of /profile/sessions: per row, its cells' text, whether it is this
    browser's, and the id its Sign out form posts to (None: the logout button)."""
    html = page.content.decode()
    rows = []
    for this_browser, row in ROW.findall(html):
        cells = [text(cell) for cell in CELL.findall(row)]
        target = SIGN_OUT.search(row)
        rows.append({"browser": cells[0], "address": cells[1], "way_in": cells[2], "started": cells[3],
                     "last_active": cells[4], "this_browser": bool(this_browser),
                     "id": target.group(1) if target else None})
    return rows


@pytest.fixture
def browser_of(authentik):
    """``browser_of(person, user_agent, address)``: a new browser signed in as ``person`` at Authentik."""

    def open_browser(person, user_agent=FIREFOX_LINUX, address="198.51.100.7"):
        browser = Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address)
        response = sign_in(browser, authentik, person)
        assert response.status_code == 302 and "/login" not in response["Location"], response
        return browser

    return open_browser
