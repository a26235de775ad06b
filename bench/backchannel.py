"""Benchmark: back-channel logout with many live sessions (the sid/sub lookup must not scan).

Run: .venv/bin/python bench/backchannel.py [--sessions 20000]
Prints the time per logout-token request with N provider sessions in the session table, and the
query plan of the lookup (it must use the (issuer, sid) index).
"""

import argparse
import statistics
import time
from datetime import timedelta

import requests_mock  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from harness import configure, prepare_database  # first: sets Django up

from accounts.models import Session, User  # noqa: E402
from tests.fakeidp import FakeProvider, logout_token  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    prepare_database()
    with requests_mock.Mocker() as mocker:
        fake = FakeProvider(mocker, "authentik")
        configure(fake)
        user = User.objects.create_user("load")
        expires = timezone.now() + timedelta(days=1)
        Session.objects.bulk_create(
            Session(session_key=f"k{i:039d}", session_data="", expire_date=expires, user=user,
                    signin_method="oidc", provider="authentik", issuer=fake.issuer, subject=f"sub-{i}",
                    sid=f"sid-{i}")
            for i in range(args.sessions)
        )
        plan = Session.objects.filter(issuer=fake.issuer, sid="sid-5").explain()
        client = Client()
        durations = []
        for i in range(args.requests):
            token = logout_token(fake, str(i), sub=False)
            start = time.perf_counter()
            response = client.post("/api/oauth/backchannel-logout", {"logout_token": token})
            durations.append(time.perf_counter() - start)
            assert response.status_code == 200, response.content
        print(f"sessions in table: {args.sessions}  logout requests: {args.requests}  "
              f"median {statistics.median(durations) * 1000:.2f} ms  "
              f"p95 {sorted(durations)[int(args.requests * 0.95) - 1] * 1000:.2f} ms")
        print(f"remaining sessions: {Session.objects.count()} (expected {args.sessions - args.requests})")
        print("lookup plan:", plan.replace("\n", " | "))


if __name__ == "__main__":
    main()
