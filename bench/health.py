"""Benchmark: the sign-in health JSON for 90 days over a large sign-in history, on PostgreSQL.

Run: .venv/bin/python bench/health.py [--rows 1000000] [--requests 15] [--seconds 120]
                                       [--database postgres://postgres@127.0.0.1:5432/romm_bench_health]

Empties the given database's sign-in history, fills it with ``--rows`` rows spread over the last
89 days in one INSERT … SELECT FROM generate_series (a mix like a busy site's: OpenID sign-ins
at two providers with their token request times, refusals of several reasons, passwords, app
tokens, sessions ended by the recheck and back-channel logout, key rotations), lets PostgreSQL
VACUUM ANALYZE the table (what autovacuum does after a load), then asks
``GET /api/admin/sign-in-health?days=90`` as an administrator: once (the first look, which
summarises the 89 days that are over), then ``--requests`` times through the whole Django stack,
and prints the median, 95th percentile and slowest answer, the queries' plans, and a look after
the last day's and the last week's summaries are dropped (what a look costs after midnight, or
after a deletion). Finally it prunes the history to 60 days with ``prune_signin_history``. No
round starts after ``--seconds``; the database is left with the rows unless ``--drop`` is given.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--rows", type=int, default=1_000_000)
parser.add_argument("--requests", type=int, default=15)
parser.add_argument("--seconds", type=float, default=120.0)
parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/romm_bench_health")
parser.add_argument("--drop", action="store_true", help="delete the generated rows at the end")
args = parser.parse_args()
os.environ["DATABASE_URL"] = args.database
os.environ.setdefault("CACHE_URL", "locmemcache://")

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from harness import prepare_database  # noqa: E402  (sets Django up on DATABASE_URL)

from accounts.audit import health  # noqa: E402
from accounts.models import Role, SignInDay, SignInEvent, User  # noqa: E402

LIMIT_MS = 300
URL = "/api/admin/sign-in-health?days=90"

# One row per number of the series, its kind picked by the number modulo 40.
FILL = """
INSERT INTO accounts_signinevent
    (created_at, username, method, outcome, reason, detail, provider, subject, ip_address, user_agent,
     provider_ms)
SELECT
    now() - interval '89 days' * (i::float8 / %(rows)s),
    'person' || (i %% 5000),
    CASE WHEN k < 30 THEN 'oidc' WHEN k < 34 THEN 'password' WHEN k < 35 THEN 'token'
         WHEN k < 36 THEN 'app_token' WHEN k < 37 THEN 'device' WHEN k < 39 THEN 'oidc'
         WHEN i %% 40000 = 39 THEN 'keys' ELSE 'oidc' END,
    CASE WHEN k < 24 THEN 'success' WHEN k < 30 THEN 'refused' WHEN k < 32 THEN 'success'
         WHEN k < 34 THEN 'refused' WHEN k < 35 THEN 'success' WHEN k < 36 THEN 'changed'
         WHEN k < 37 THEN 'success' WHEN k < 38 THEN 'refused' WHEN i %% 40000 = 39 THEN 'changed'
         ELSE 'ended' END,
    CASE WHEN k < 24 THEN '' WHEN k < 26 THEN 'email_unverified' WHEN k < 27 THEN 'state_unknown'
         WHEN k < 28 THEN 'no_role' WHEN k < 29 THEN 'code_rejected' WHEN k < 30 THEN 'provider_timeout'
         WHEN k < 32 THEN '' WHEN k < 34 THEN 'invalid_credentials' WHEN k < 35 THEN ''
         WHEN k < 36 THEN 'token_created' WHEN k < 37 THEN 'device_approved' WHEN k < 38 THEN 'provider_ended'
         WHEN i %% 40000 = 39 THEN 'key_rotated' ELSE 'backchannel_logout' END,
    '',
    CASE WHEN k < 30 OR k BETWEEN 37 AND 39 THEN (CASE WHEN i %% 3 = 0 THEN 'authelia' ELSE 'authentik' END)
         ELSE '' END,
    md5(i::text),
    ('10.' || (i %% 256) || '.' || (i / 256 %% 256) || '.7')::inet,
    'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
    CASE WHEN k < 29 THEN 40 + (i * 7919 %% 160) + (CASE WHEN i %% 97 = 0 THEN 900 ELSE 0 END)
              + (i %% 1000) / 1000.0
         ELSE NULL END
FROM (SELECT i, i %% 40 AS k FROM generate_series(1::bigint, %(rows)s) AS i) AS series
"""


def fill(rows):
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE accounts_signinevent")
        SignInDay.objects.all().delete()
        started = time.perf_counter()
        cursor.execute(FILL, {"rows": rows})
        inserted = time.perf_counter() - started
        cursor.execute("VACUUM ANALYZE accounts_signinevent")
        return inserted, time.perf_counter() - started - inserted


def plans():
    """PostgreSQL's plan for each of the report's queries, as it ran them."""
    with CaptureQueriesContext(connection) as captured:
        health.report(90)
    found = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF, TIMING OFF) " + query["sql"])
            lines = [row[0] for row in cursor.fetchall()]
            table = query["sql"].split(" FROM ", 1)[1].split()[0].strip('"()')
            found.append((table, [line for line in lines if "Scan" in line or "Execution" in line]))
    return found


def main():
    if connection.vendor != "postgresql":
        sys.exit("This benchmark is for PostgreSQL: pass --database postgres://…")
    prepare_database()
    deadline = time.monotonic() + args.seconds
    inserted, vacuumed = fill(args.rows)
    print(
        f"history: {SignInEvent.objects.count():,} rows over 89 days; inserted in {inserted:.1f}s, "
        f"VACUUM ANALYZE {vacuumed:.1f}s"
    )
    admin = User.objects.filter(username="bench-admin").first() or User.objects.create_user(
        "bench-admin", role=Role.ADMIN
    )
    client = Client()
    client.force_login(admin)
    started = time.perf_counter()
    first = client.get(URL)
    cold = (time.perf_counter() - started) * 1000
    assert first.status_code == 200, first.content
    report = first.json()
    print(f"first look (summarises the {SignInDay.objects.count()} days that are over, once): {cold:.0f} ms")
    print(
        "report: sign-ins",
        {e["key"]: e["total"] for e in report["sign_ins"]["by_outcome"]},
        "| refusal reasons",
        len(report["refusals"]),
        "| providers timed",
        [p["key"] for p in report["provider_response_ms"]],
        "| key rotations",
        sum(e["total"] for e in report["key_rotations"]),
    )
    answers, query_ms = [], []
    for _ in range(args.requests):
        if time.monotonic() > deadline:
            break
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(URL)
            answers.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
        query_ms.append([float(q["time"]) * 1000 for q in captured.captured_queries])
    answers.sort()
    median = statistics.median(answers)
    p95 = answers[max(0, round(0.95 * len(answers)) - 1)]
    print(
        f"GET {URL}: {len(answers)} answers, median {median:.0f} ms, p95 {p95:.0f} ms, "
        f"slowest {answers[-1]:.0f} ms ({'under' if median < LIMIT_MS else 'OVER'} {LIMIT_MS} ms)"
    )
    queries = list(zip(*query_ms))
    slowest = max(statistics.median(times) for times in queries)
    print(f"  {len(queries)} queries a look; the slowest's median {slowest:.1f} ms")
    for sql, plan in plans():
        print(f"  plan of {sql}:")
        for line in plan:
            print("    " + line.strip())
    for days in (1, 7):
        SignInDay.objects.filter(day__gte=timezone.localdate() - timedelta(days=days)).delete()
        started = time.perf_counter()
        client.get(URL)
        print(
            f"a look after forgetting the last {days} day(s)' summaries: "
            f"{(time.perf_counter() - started) * 1000:.0f} ms"
        )
    started = time.perf_counter()
    call_command("prune_signin_history", "--days", "60", stdout=sys.stdout)
    print(f"prune_signin_history --days 60: {time.perf_counter() - started:.1f}s")
    if args.drop:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE accounts_signinevent")
    return 0 if median < LIMIT_MS else 1


if __name__ == "__main__":
    sys.exit(main())
