"""The site started as the container starts it (deploy/start.sh), attacked from outside.

A reader of its log finds no secret: not the break-glass link's, not a pairing code, not the
sign-in callback's code, whether the URL's path, its query string or a Referer header carried
it. The cleanup the start script schedules runs. Per-address limits count an IPv6 /64 as one
client, and one client's refused attempts fill the sign-in history only up to a bound.
"""

import json
import re
import time
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.shipped import ShippedSite, csrf_of

pytestmark = pytest.mark.e2e

SEED = """
from datetime import timedelta
from django.utils import timezone
from accounts.models import Session, SignInEvent
Session.objects.create(session_key="expired-session-row-for-cleanup-1", session_data="",
                       expire_date=timezone.now() - timedelta(days=1))
old = SignInEvent.objects.create(method="password", outcome="refused", reason="seeded-old")
SignInEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=400))
SignInEvent.objects.create(method="password", outcome="refused", reason="seeded-recent")
"""


@pytest.fixture(scope="module")
def site():
    started = ShippedSite(seed=SEED)
    yield started
    started.stop()


def from_address(address):
    return {"X-Forwarded-For": address}


# --- the access log ----------------------------------------------------------------------------
def test_break_glass_link_signs_in_and_its_secret_is_in_no_log_line(site):
    link = site.manage("signin_link", "frank").strip()
    parts = urlsplit(link)
    secret = parts.fragment
    assert secret and secret not in parts.path + parts.query
    browser = requests.Session()
    page = browser.get(link, timeout=10)  # like a browser, requests never sends the fragment
    assert page.status_code == 200 and "Sign in" in page.text
    response = browser.post(
        f"{site.url}/login/link", data={"csrfmiddlewaretoken": csrf_of(page.text), "token": secret},
        headers={"Referer": f"{site.url}/login/link"}, allow_redirects=False, timeout=10,
    )
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert browser.get(f"{site.url}/api/users/me", timeout=10).json()["username"] == "frank"
    log = site.read_log()
    assert '"GET /login/link HTTP/1.1" 200' in log and '"POST /login/link HTTP/1.1" 302' in log
    assert secret not in log


@pytest.mark.browser
def test_break_glass_link_opened_in_a_browser_signs_in(site, chromium):
    link = site.manage("signin_link", "frank").strip()
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(20000)
        page.goto(link)
        assert page.url == f"{site.url}/login/link"  # the page took the secret out of the address bar
        assert not page.is_visible("#link-token")
        page.click('button:has-text("Sign in")')
        page.wait_for_url(f"{site.url}/")
        assert "frank" in page.inner_text("header")
    finally:
        context.close()
    assert urlsplit(link).fragment not in site.read_log()


def test_pairing_code_and_callback_code_are_in_no_log_line(site):
    browser = site.signed_in()
    profile = browser.get(f"{site.url}/profile", timeout=10)
    made = browser.post(f"{site.url}/profile/client-tokens", timeout=10, data={
        "csrfmiddlewaretoken": csrf_of(profile.text), "name": "Phone", "scopes": ["me.read", "roms.read"],
        "expires_in": "never",
    })
    raw_token = re.search(r'data-testid="raw-token">([^<]+)<', made.text).group(1)
    pair = re.search(r'action="(/profile/client-tokens/\d+/pair)"', made.text).group(1)
    paired = browser.post(site.url + pair, data={"csrfmiddlewaretoken": csrf_of(made.text)}, timeout=10)
    code = re.search(r'data-testid="pairing-code">([^<]+)<', paired.text).group(1)
    poll = re.search(r'data-status="([^"]+)"', paired.text).group(1)
    # What the page's script asks every two seconds while the code waits.
    assert browser.get(site.url + poll, timeout=10).json()["status"] == "pending"
    # A phone's camera opens the QR code's URL; the page it shows then loads more (the Referer).
    shown = requests.get(f"{site.url}/pair", params={"code": code}, timeout=10,
                         headers={"Referer": f"{site.url}/pair?code={code}"})
    assert shown.status_code == 200 and code in shown.text
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    device = browser.get(f"{site.url}/pair/device", params={"user_code": code}, timeout=10)
    assert device.headers["Referrer-Policy"] == "strict-origin"
    requests.get(f"{site.url}/api/oauth/openid", params={"code": "callback-code-c4f9e2", "state": "s-1"},
                 timeout=10)
    exchanged = requests.post(f"{site.url}/api/client-tokens/exchange", json={"code": code}, timeout=10,
                              headers=from_address("198.51.100.20"))
    assert exchanged.status_code == 200
    assert browser.get(site.url + poll, timeout=10).status_code == 404  # the page says "Paired"
    log = site.read_log()
    assert f'"GET {poll} HTTP/1.1" 200' in log and '"GET /pair HTTP/1.1" 200' in log
    for secret in (code, code.replace("-", ""), "callback-code-c4f9e2", raw_token, exchanged.json()["raw_token"]):
        assert secret not in log, secret


# --- the scheduled cleanup --------------------------------------------------------------------
def test_the_start_script_deletes_expired_sessions_and_old_history(site):
    code = (
        "from accounts.models import Session, SignInEvent; "
        "print(Session.objects.filter(session_key='expired-session-row-for-cleanup-1').exists(), "
        "sorted(SignInEvent.objects.filter(reason__startswith='seeded').values_list('reason', flat=True)))"
    )
    deadline = time.monotonic() + 60
    while (state := site.query(code)) != "False ['seeded-recent']" and time.monotonic() < deadline:
        time.sleep(1)
    assert state == "False ['seeded-recent']"
    assert "Deleted 1 sign-in history row(s) older than 90 days." in site.read_log()


# --- per-address limits -----------------------------------------------------------------------
def within_one_minute():
    """The app endpoints count per calendar minute: start early enough in one."""
    while time.time() % 60 > 45:
        time.sleep(1)


def test_app_endpoint_limits_count_one_ipv6_64_as_one_client(site):
    within_one_minute()

    def exchange(address):
        return requests.post(f"{site.url}/api/client-tokens/exchange", json={"code": "ABCD-EFGH"}, timeout=10,
                             headers=from_address(address)).status_code

    # An unknown code is RomM's 404 until the /64's allowance is spent.
    assert [exchange(f"2001:db8:7:7:{n:x}::1") for n in range(1, 7)] == [404] * 5 + [429]
    assert exchange("2001:db8:7:8::1") == 404  # the next /64 is another client
    init = {"client_device_identifier": "d", "name": "Deck", "client": "grout", "requested_scopes": ["me.read"]}
    started = [
        requests.post(f"{site.url}/api/auth/device/init", json=init, timeout=10,
                      headers=from_address(f"2001:db8:7:9::{n:x}")).status_code
        for n in range(1, 12)
    ]
    assert started == [201] * 10 + [429]


# --- the sign-in history's bound ----------------------------------------------------------------
def test_a_guessing_client_fills_the_history_only_up_to_the_bound(site):
    for n in range(60):
        requests.post(f"{site.url}/api/login", auth=("frank", f"wrong-{n}"), headers=from_address("203.0.113.9"),
                      timeout=10)
    requests.post(f"{site.url}/api/login", auth=("frank", "wrong"), headers=from_address("203.0.113.10"), timeout=10)
    rows = json.loads(site.query(
        "import json; from accounts.models import SignInEvent; "
        "print(json.dumps(list(SignInEvent.objects.filter(ip_address__startswith='203.0.113.').order_by('pk')"
        ".values_list('ip_address', 'reason'))))"
    ))
    # The default bound: 20 a minute per client, then one row for the rest; another client's count.
    guesser = [["203.0.113.9", "invalid_credentials"]] * 5 + [["203.0.113.9", "rate_limited"]] * 15
    assert rows == guesser + [["203.0.113.9", "too_many_refusals"], ["203.0.113.10", "invalid_credentials"]]
    log = site.read_log()
    assert "more than 20 refusals from 203.0.113.9 within a minute" in log
    assert "10 refusals from 203.0.113.9 this minute not recorded one by one" in log
