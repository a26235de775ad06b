"""Benchmark: what the session recheck (OIDC_SESSION_RECHECK_SECONDS) adds to a page.

Run: .venv/bin/python bench/recheck.py [--pages 500]
For each provider profile, the median time of GET /api/users/me for a signed-in session:
without the recheck, with it on but not due (the common case), and when every request is due
and refreshes at the provider (faked over HTTP by the test fake, so the numbers are this site's
own cost: lock, token request handling, ID token validation, role re-application, writes).
Also database queries and provider requests per page.
"""

import argparse
import statistics
import time

from harness import configure, prepare_database  # first: sets Django up

import requests_mock  # noqa: E402
import time_machine  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

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


def measure(client, mocker, pages, before_each=None):
    durations, queries, calls = [], 0, len(mocker.request_history)
    for _ in range(pages):
        if before_each:
            before_each()
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(PAGE)
            durations.append(time.perf_counter() - start)
        assert response.status_code == 200, response.content
        queries += len(captured)
    return statistics.median(durations) * 1000, queries / pages, (len(mocker.request_history) - calls) / pages


def run(profile, pages):
    with requests_mock.Mocker() as mocker:
        fake = FakeProvider(mocker, profile)
        configure(fake, **ROLES)
        cache.clear()
        base = measure(signed_in(fake), mocker, pages)

        configure(fake, **ROLES, OIDC_SESSION_RECHECK_SECONDS="3600")
        not_due = measure(signed_in(fake), mocker, pages)

        configure(fake, **ROLES, OIDC_SESSION_RECHECK_SECONDS="60")
        client = signed_in(fake)
        with time_machine.travel(time.time(), tick=True) as clock:
            due = measure(client, mocker, pages, before_each=lambda: clock.shift(61))
        assert len(fake.refreshes()) == pages and not fake.reused_refresh_tokens

    rows = [("recheck off", base), ("recheck on, not due", not_due), ("recheck on, refreshes", due)]
    for label, (median, queries, calls) in rows:
        print(f"{profile:9s} {label:22s} median {median:6.2f} ms  (+{median - base[0]:5.2f} ms)  "
              f"queries/page {queries:4.1f}  provider requests/page {calls:3.1f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=500)
    args = parser.parse_args()
    prepare_database()
    for profile in ("authentik", "authelia"):
        run(profile, args.pages)


if __name__ == "__main__":
    main()
