"""Benchmark: what the session recheck (OIDC_SESSION_RECHECK_SECONDS) adds to a page.

Run: .venv/bin/python bench/recheck.py [--pages 500]
For each provider profile, the median time of GET /api/users/me for a signed-in session:
without the recheck, with it on but not due (the common case), and when every request is due
and refreshes at the provider (faked over HTTP by the test fake, so the numbers are this site's
own cost: lock, token request handling, ID token validation, role re-application, writes, plus
the fake's signing of the new ID token; a real provider's answer time comes on top).
Also database queries and provider requests per page.
"""

import argparse
import statistics
import time

import requests_mock  # noqa: E402
import time_machine  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from harness import configure, prepare_database  # first: sets Django up

from tests.fakeidp import FakeProvider  # noqa: E402

ROLES = {"OIDC_CLAIM_ROLES": "groups", "OIDC_ROLE_VIEWER": "romm-viewers", "OIDC_ROLE_ADMIN": "romm-admins"}
PAGE = "/api/users/me"


def signed_in(fake):
    client = Client()
    location = client.get("/api/login/openid")["Location"]
    response = client.get(fake.authorize(location, "carol").replace("http://testserver", ""))
    assert response.status_code == 302 and not response["Location"].startswith("/login"), response["Location"]
    client.get(PAGE)  # warm: discovery and JWKS cached, session loaded once
    return client


def timed(client, mocker):
    calls = len(mocker.request_history)
    with CaptureQueriesContext(connection) as captured:
        begin = time.perf_counter()
        response = client.get(PAGE)
        elapsed = time.perf_counter() - begin
    assert response.status_code == 200, response.content
    return elapsed, len(captured), len(mocker.request_history) - calls


def run(profile, pages):
    with requests_mock.Mocker() as mocker:
        fake = FakeProvider(mocker, profile)
        cache.clear()
        # Three sessions measured in turn, so the machine's noise falls on all three alike; each
        # under its own configuration (the site's, set before each page, outside the timing).
        # With the recheck on, a session signed in with it off ends (it keeps no refresh token).
        off_env, not_due_env = ROLES, {**ROLES, "OIDC_SESSION_RECHECK_SECONDS": str(30 * 86400)}
        due_env = {**ROLES, "OIDC_SESSION_RECHECK_SECONDS": "60"}
        configure(fake, **off_env)
        off = signed_in(fake)  # signed in with the recheck off: no next-due time in its session
        configure(fake, **not_due_env)
        not_due = signed_in(fake)  # due in 30 days: never during the run
        configure(fake, **due_env)
        due = signed_in(fake)  # due at every request: the clock moves 61 s before each
        results = {"recheck off": [], "recheck on, not due": [], "recheck on, refreshes": []}
        with time_machine.travel(time.time(), tick=True) as clock:
            for _ in range(pages):
                configure(fake, **off_env)
                results["recheck off"].append(timed(off, mocker))
                configure(fake, **not_due_env)
                results["recheck on, not due"].append(timed(not_due, mocker))
                configure(fake, **due_env)
                clock.shift(61)
                results["recheck on, refreshes"].append(timed(due, mocker))
        assert len(fake.refreshes()) == pages and not fake.reused_refresh_tokens

    base = statistics.median(t for t, _, _ in results["recheck off"]) * 1000
    for label, rows in results.items():
        median = statistics.median(t for t, _, _ in rows) * 1000
        print(f"{profile:9s} {label:22s} median {median:6.2f} ms  ({median - base:+5.2f} ms)  "
              f"queries/page {statistics.mean(q for _, q, _ in rows):4.1f}  "
              f"provider requests/page {statistics.mean(c for _, _, c in rows):3.1f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=500)
    args = parser.parse_args()
    prepare_database()
    for profile in ("authentik", "authelia"):
        run(profile, args.pages)


if __name__ == "__main__":
    main()
