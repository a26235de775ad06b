"""Simultaneous requests against the real site process, on SQLite (the default) and PostgreSQL.

Each case starts its own site (a fresh database) and local provider, collects finished provider
round trips first, then fires the site's callbacks at the same moment from many threads.
"""

import base64
import re
import subprocess
import sys
import threading
import uuid
from urllib.parse import urljoin

import psycopg
import pytest
import requests

from tests.e2e.conftest import PASSWORD, ROOT, Stack

pytestmark = pytest.mark.e2e

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fresh_stack(request):
    database = None
    site_env = {}
    if request.param == "postgresql":
        database = f"romm_e2e_{uuid.uuid4().hex[:10]}"
        try:
            with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'CREATE DATABASE "{database}"')
        except psycopg.OperationalError as exc:
            pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}")
        site_env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{database}"
    stack = Stack("authentik", site_env)
    yield stack
    stack.stop()
    if database:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def site_query(stack, code):
    """Run ``code`` in the site's Django (its own database) and return what it prints."""
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=stack.env,
        capture_output=True, text=True, timeout=60, check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def finished_round_trip(stack, username, session=None, start="/api/login/openid"):
    """A browser session that went to the provider and signed in; returns (session, callback URL)."""
    session = session or requests.Session()
    response = session.get(f"{stack.url}{start}", allow_redirects=False, timeout=10)
    for _ in range(10):
        location = response.headers.get("Location")
        if location is None:
            # The provider's login form.
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text).group(1)
            data = {"csrfmiddlewaretoken": token, "username": username, "password": PASSWORD}
            found = re.search(r'name="next" value="([^"]*)"', response.text)
            if found:
                data["next"] = found.group(1).replace("&amp;", "&")
            response = session.post(response.url, data=data, headers={"Referer": response.url},
                                    allow_redirects=False, timeout=10)
            continue
        url = urljoin(response.url, location)
        if url.startswith(f"{stack.url}/api/oauth/openid"):
            return session, url
        response = session.get(url, allow_redirects=False, timeout=10)
    raise AssertionError("the provider round trip did not come back to the site")


def at_once(calls):
    """Run every call at the same moment in its own thread; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        try:
            results[index] = call()
        except requests.RequestException as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_twenty_simultaneous_first_sign_ins_of_one_person_make_one_account(fresh_stack):
    trips = [finished_round_trip(fresh_stack, "carol") for _ in range(20)]
    results = at_once([lambda s=s, u=u: s.get(u, allow_redirects=False, timeout=60) for s, u in trips])
    statuses = [r.status_code if isinstance(r, requests.Response) else repr(r) for r in results]
    assert all(status in (200, 302) for status in statuses), statuses
    assert site_query(fresh_stack, "from accounts.models import User, Identity; "
                      "print(User.objects.filter(email='carol@example.com').count(), Identity.objects.count())") == "1 1"
    signed_in = [s for s, _ in trips if s.get(f"{fresh_stack.url}/api/users/me", timeout=10).status_code == 200]
    # Every browser either signed in to the one account or was told to start again.
    assert len(signed_in) >= 1
    for session in signed_in:
        assert session.get(f"{fresh_stack.url}/api/users/me", timeout=10).json()["username"] == "carol"
    assert "Traceback" not in fresh_stack.site_log()


def test_one_callback_replayed_ten_times_at_once_makes_at_most_one_session(fresh_stack):
    session, url = finished_round_trip(fresh_stack, "bob")
    cookies = session.cookies.get_dict()
    results = at_once([lambda: requests.get(url, cookies=cookies, allow_redirects=False, timeout=60)] * 10)
    statuses = [r.status_code if isinstance(r, requests.Response) else repr(r) for r in results]
    assert all(status in (200, 302) for status in statuses), statuses
    sessions = site_query(fresh_stack, "from accounts.models import Session; "
                          "print(Session.objects.signed_in().filter(user__username='bob').count())")
    assert sessions == "1", statuses
    assert "Traceback" not in fresh_stack.site_log()


def test_thirty_simultaneous_wrong_passwords_are_checked_five_times_at_most(fresh_stack):
    header = "Basic " + base64.b64encode(b"frank:not-the-password").decode()
    results = at_once([lambda: requests.post(f"{fresh_stack.url}/api/login", headers={"Authorization": header},
                                             timeout=60)] * 30)
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(401) <= 5 and statuses.count(429) >= 25, statuses
    assert set(statuses) <= {401, 429}


def test_fifty_cookieless_starts_at_once_write_no_session_row(fresh_stack):
    count = "from accounts.models import Session; print(Session.objects.count())"
    before = site_query(fresh_stack, count)
    start = f"{fresh_stack.url}/api/login/openid"
    results = at_once([lambda: requests.get(start, allow_redirects=False, timeout=60)] * 50)
    statuses = [r.status_code if isinstance(r, requests.Response) else repr(r) for r in results]
    assert statuses == [302] * 50, statuses
    assert site_query(fresh_stack, count) == before
    assert "Traceback" not in fresh_stack.site_log()


def test_several_tabs_of_one_browser_each_finish_with_real_cookie_paths(fresh_stack):
    browser = requests.Session()  # keeps cookies by path, as a browser does
    callbacks = [finished_round_trip(fresh_stack, "carol", browser, f"/api/login/openid?next=/%3Ftab%3D{tab}")[1]
                 for tab in range(3)]
    for tab in (2, 0, 1):
        response = browser.get(callbacks[tab], allow_redirects=False, timeout=30)
        assert response.headers["Location"] == f"/?tab={tab}", response.headers.get("Location")
    assert browser.get(f"{fresh_stack.url}/api/users/me", timeout=10).json()["username"] == "carol"
