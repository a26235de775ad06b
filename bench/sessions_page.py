"""Benchmark: /profile/sessions for a person with many open sessions.

Run: .venv/bin/python bench/sessions_page.py [--counts 10,1000,5000] [--pages 20]
A password account signs in, then gets ``count`` more open sessions (rows as sign-ins leave
them: four browsers' User-Agents, addresses, times), in an SQLite file. Printed per count: the
first page's median time, its queries and its size. A script that signs in with a password every few
minutes leaves thousands of such sessions within the two weeks they last.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

DATABASE = Path(tempfile.mkdtemp(prefix="romm-bench-sessions-")) / "sessions.sqlite3"
os.environ["DATABASE_URL"] = f"sqlite:///{DATABASE}"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402
from harness import prepare_database  # noqa: E402  first: sets Django up

from accounts.models import Role, Session, User  # noqa: E402
from accounts.sessions.engine import public_id  # noqa: E402

PASSWORD = "bench-password-1234"
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36 Edg/131.0.0.0",
    "python-requests/2.32.3",
]


def add_sessions(user, count):
    now = timezone.now()
    rows = []
    for n in range(count):
        key = get_random_string(32)
        when = now - timedelta(minutes=5 * n)
        rows.append(Session(
            session_key=key, session_data="", expire_date=now + timedelta(days=14), user=user,
            signin_method="api", created_at=when, last_active=when, ip_address=f"198.51.100.{n % 250 + 1}",
            user_agent=AGENTS[n % len(AGENTS)], public_id=public_id(key),
        ))
    Session.objects.bulk_create(rows, batch_size=500)


def measure(count, pages):
    Session.objects.all().delete()
    User.objects.filter(username="many").delete()
    user = User.objects.create_user("many", password=PASSWORD, role=Role.VIEWER)
    browser = Client()
    assert browser.post("/login", {"username": "many", "password": PASSWORD})["Location"] == "/"
    add_sessions(user, count)
    times = []
    for _ in range(pages):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = browser.get("/profile/sessions")
            times.append(time.perf_counter() - started)
        assert response.status_code == 200
    print(f"{count + 1:6d} open sessions: median {statistics.median(times) * 1000:8.1f} ms, "
          f"{len(queries):3d} queries, {len(response.content) / 1024:8.1f} KiB")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--counts", default="10,1000,5000")
    parser.add_argument("--pages", type=int, default=20)
    args = parser.parse_args()
    prepare_database()
    print(f"SQLite file {DATABASE}; Python {sys.version.split()[0]}")
    for count in (int(c) for c in args.counts.split(",")):
        measure(count, args.pages)


if __name__ == "__main__":
    main()
