"""Benchmark: what mirrored groups (OIDC_GROUPS) add to a returning sign-in.

Run: .venv/bin/python bench/group_sync.py [--logins 100]
(DATABASE_URL=postgres://… runs it on PostgreSQL; that database is emptied.)
Prints, per case, the median and 95th percentile of a returning sign-in's callback and its
database queries: groups off; on with nothing to change; on with 5 groups joined and 5 left at
every sign-in; a claim of 10,000 matching names, off and on (at most 20 groups created per
sign-in, the first 100 names kept: the difference is what the sync costs). The provider is the test fake (requests-mock), so the numbers are
this site's own cost.
"""

import argparse
import statistics
import time

import requests_mock  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from harness import configure, prepare_database  # first: sets Django up

from tests.fakeidp import FakeProvider  # noqa: E402

ROLES = {"OIDC_CLAIM_ROLES": "groups", "OIDC_ROLE_VIEWER": "*"}
ODD = [f"romm-odd-{n}" for n in range(5)]
EVEN = [f"romm-even-{n}" for n in range(5)]
HOSTILE = [f"romm-{n:05}" for n in range(10_000)]


def callback_time(client, fake, groups):
    """One returning sign-in: seconds and queries of the callback alone."""
    location = client.get("/api/login/openid")["Location"]
    callback = fake.authorize(location, "carol", groups=groups).replace("http://testserver", "")
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        response = client.get(callback)
        elapsed = time.perf_counter() - start
    count = len(queries)  # now: the next request empties the log the count is read from
    assert response.status_code == 302 and response["Location"] == "/", response["Location"]
    client.post("/logout")
    return elapsed, count


def case(label, logins, mirrored, claim_for):
    call_command("flush", interactive=False, verbosity=0)
    with requests_mock.Mocker() as mocker:
        fake = FakeProvider(mocker, "authentik")
        configure(fake, **ROLES, **({"OIDC_GROUPS": "romm-*"} if mirrored else {}))
        cache.clear()
        client = Client()
        callback_time(client, fake, claim_for(0))  # the first sign-in creates the account
        runs = [callback_time(client, fake, claim_for(index)) for index in range(1, logins + 1)]
    times = sorted(elapsed for elapsed, _ in runs)
    queries = statistics.median(count for _, count in runs)
    print(f"{label:44s} median {statistics.median(times) * 1000:6.2f} ms  p95 "
          f"{times[int(len(times) * 0.95) - 1] * 1000:6.2f} ms  queries {queries:.0f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--logins", type=int, default=100)
    args = parser.parse_args()
    prepare_database()
    print(f"database: {connection.vendor}, {args.logins} returning sign-ins per case")
    case("OIDC_GROUPS off", args.logins, False, lambda i: ["romm-viewers", *ODD])
    case("OIDC_GROUPS=romm-*, nothing changes", args.logins, True, lambda i: ["romm-viewers", *ODD])
    case("OIDC_GROUPS=romm-*, 5 joined + 5 left each time", args.logins, True,
         lambda i: ["romm-viewers", *(ODD if i % 2 else EVEN)])
    case("OIDC_GROUPS off, a claim of 10,000 names", max(args.logins // 4, 5), False,
         lambda i: ["romm-viewers", *HOSTILE])
    case("OIDC_GROUPS=romm-*, a claim of 10,000 names", max(args.logins // 4, 5), True,
         lambda i: ["romm-viewers", *HOSTILE])


if __name__ == "__main__":
    main()
