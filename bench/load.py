"""Benchmark: many people signing in, browsing and signing out at once, against a real deployment.

Run: /path/to/python bench/load.py [--people 50] [--seconds 30] [--max-signins 5000]
         [--pages-per-visit 5] [--database postgres] [--workers 4] [--delay-ms 20]

gunicorn (4 workers) + PostgreSQL + Redis DB 4, the provider bench/fakeprovider.py on
127.0.0.1 with a round-trip delay. Each simulated person repeats: sign in, open a few pages
(home, /api/users/me, /profile), sign out; until the time or the sign-in count runs out. Prints
sign-ins and pages per second, p50 / p95 / p99 per kind of request, errors (anything but the
expected answer; must be 0), and whether accounts and sessions are consistent afterwards.
"""

import argparse
import json
import os
import statistics
import threading
import time

from stack import Stack

PAGES = ["/", "/api/users/me", "/profile"]


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = {"sign-in": [], "page": [], "sign-out": []}
        self.errors = []
        self.signins = 0

    def add(self, kind, seconds):
        with self.lock:
            self.latencies[kind].append(seconds * 1000)

    def error(self, text):
        with self.lock:
            self.errors.append(text)


def person_loop(stack, person, tally, deadline, budget, pages_per_visit):
    browser = stack.browser()
    while time.monotonic() < deadline:
        with tally.lock:
            if tally.signins >= budget:
                return
            tally.signins += 1
        try:
            began = time.perf_counter()
            browser.sign_in(person)
            tally.add("sign-in", time.perf_counter() - began)
            for index in range(pages_per_visit):
                path = PAGES[index % len(PAGES)]
                began = time.perf_counter()
                response = browser.get(path)
                tally.add("page", time.perf_counter() - began)
                if response.status_code != 200:
                    tally.error(f"{person} {path}: {response.status_code}")
            began = time.perf_counter()
            browser.sign_out()
            tally.add("sign-out", time.perf_counter() - began)
        except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
            tally.error(f"{person}: {type(exc).__name__}: {str(exc)[:200]}")
            browser = stack.browser()


CONSISTENCY = """
import json
from django.db.models import Count
from accounts.models import Identity, Session, SignInEvent, User
people = User.objects.filter(username__startswith="load")
print(json.dumps({
    "accounts": people.count(),
    "identities": Identity.objects.filter(user__in=people).count(),
    "accounts_with_several_identities": people.annotate(n=Count("identities")).filter(n__gt=1).count(),
    "signed_in_sessions": Session.objects.filter(user__in=people).count(),
    "signed_in_sessions_without_account_column": sum(
        1 for s in Session.objects.filter(user=None) if "_auth_user_id" in s.get_decoded()),
    "successful_signins_recorded": SignInEvent.objects.filter(
        user__in=people, method="oidc", outcome="success").count(),
}))
"""


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--max-signins", type=int, default=5000)
    parser.add_argument("--pages-per-visit", type=int, default=5)
    parser.add_argument("--database", default="postgres")
    parser.add_argument("--cache", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    args = parser.parse_args()
    with Stack(database=args.database, cache=args.cache, delay_ms=args.delay_ms, workers=args.workers,
               name="romm_perf_load") as stack:
        people = [f"load{i:03d}" for i in range(args.people)]
        tally = Tally()
        deadline = time.monotonic() + args.seconds
        threads = [threading.Thread(target=person_loop, daemon=True,
                                    args=(stack, person, tally, deadline, args.max_signins, args.pages_per_visit))
                   for person in people]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=args.seconds + 60)
        elapsed = time.perf_counter() - began
        facts = json.loads(stack.manage("shell", "-c", CONSISTENCY).strip().splitlines()[-1])
        completed = len(tally.latencies["sign-in"])
        signed_out = len(tally.latencies["sign-out"])
        print(f"cores {os.cpu_count()}, gunicorn workers {args.workers}, {args.database} + {args.cache}, "
              f"provider delay {args.delay_ms:g} ms, {args.people} people, {elapsed:.1f} s")
        print(f"| {'what':10s} | {'count':>6s} | {'per s':>7s} | {'p50 ms':>7s} | {'p95 ms':>7s} | {'p99 ms':>7s} |")
        print(f"|{'-' * 12}|{'-' * 8}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 9}|")
        for kind, values in tally.latencies.items():
            print(f"| {kind:10s} | {len(values):6d} | {len(values) / elapsed:7.1f} | {pct(values, 50):7.1f} |"
                  f" {pct(values, 95):7.1f} | {pct(values, 99):7.1f} |")
        print(f"errors: {len(tally.errors)}" + (f" (first: {tally.errors[:3]})" if tally.errors else ""))
        expected = {
            "accounts": len({p for p in people}) if completed else 0,
            "identities": len(people) if completed else 0,
            "accounts_with_several_identities": 0,
            "signed_in_sessions": completed - signed_out,
            "signed_in_sessions_without_account_column": 0,
            "successful_signins_recorded": completed,
        }
        consistent = all(facts[k] == v for k, v in expected.items())
        print("afterwards:", ", ".join(f"{k} {facts[k]} (expected {v})" for k, v in expected.items()))
        print("consistent:", "yes" if consistent else "NO", "| median sign-in",
              f"{statistics.median(tally.latencies['sign-in']):.1f} ms" if completed else "-")
        if tally.errors or not consistent:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
