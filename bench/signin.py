"""Benchmark: what one sign-in and one page cost, measured from outside a real deployment.

Run: /path/to/python bench/signin.py [--signins 200] [--pages 300] [--delay-ms 20]
         [--databases sqlite,postgres] [--profiles authentik,authelia] [--workers 4]
         [--postgres-synchronous-commit on|off]

The site runs under gunicorn (4 workers: 2 per core on this machine) against an SQLite file or
PostgreSQL, with Redis DB 4 as the cache; the provider is bench/fakeprovider.py, a real HTTP
process on 127.0.0.1 that answers each request after ``--delay-ms``. Each request's cost comes
from bench/countingwsgi.py (queries, write statements, write transactions, provider requests
and the time spent waiting for them). Printed per database and provider profile:

- a returning person's sign-in: provider requests, queries and write transactions of the start
  and of the callback, and the callback's time split into waiting on the provider and the
  site's own (p50 / p95);
- logout: queries and write transactions;
- a page: the site's time and queries of /api/heartbeat and /api/users/me anonymous, with a
  session and with an API token from /api/token, and what signing in adds to them.

The site runs on the interpreter that runs this script, so run it with one built like the
image's (python:3.12-slim: PGO and LTO); the first line printed says which one ran and how fast
it was at that moment (a fixed loop), since a shared machine's speed changes by the minute.
"""

import argparse
import statistics
import sys
import time

from stack import Stack, cost

PEOPLE = [f"person{i}" for i in range(10)] + ["admin0"]


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def measure_signins(stack, count):
    browsers = {person: stack.browser() for person in PEOPLE}
    # First sign-ins create the accounts; a few more warm every worker's connection and caches.
    for _ in range(3):
        for person, browser in browsers.items():
            browser.sign_in(person)
            browser.sign_out()
    before = stack.provider_stats()
    starts, callbacks, logouts = [], [], []
    client_ms = []
    for index in range(count):
        person = PEOPLE[index % len(PEOPLE)]
        browser = browsers[person]
        began = time.perf_counter()
        start, callback = browser.sign_in(person)
        client_ms.append((time.perf_counter() - began) * 1000)
        starts.append(cost(start))
        callbacks.append(cost(callback))
        logouts.append(cost(browser.sign_out()))
    after = stack.provider_stats()
    at_provider = {k: (after.get(k, 0) - before.get(k, 0)) / count for k in after}
    return starts, callbacks, logouts, client_ms, at_provider


def measure_pages(stack, count):
    anonymous = stack.browser()
    signed_in = stack.browser()
    signed_in.sign_in("person0")
    bearer = {"Authorization": "Bearer " + stack.api_token()}
    cases = {
        "heartbeat anonymous": lambda: anonymous.get("/api/heartbeat"),
        "heartbeat session": lambda: signed_in.get("/api/heartbeat"),
        "users/me anonymous": lambda: anonymous.get("/api/users/me"),
        "users/me session": lambda: signed_in.get("/api/users/me"),
        "users/me API token": lambda: anonymous.get("/api/users/me", headers=bearer),
    }
    results = {}
    for name, call in cases.items():
        for _ in range(20):
            call()
        samples = []
        for _ in range(count):
            began = time.perf_counter()
            response = call()
            samples.append((cost(response), (time.perf_counter() - began) * 1000, response.status_code))
        results[name] = samples
    return results


def summary(costs, field):
    values = [c[field] for c in costs]
    return statistics.median(values)


def report(label, signins, pages):
    starts, callbacks, logouts, client_ms, at_provider = signins
    site_ms = [c["ms"] - c["provider_ms"] for c in callbacks]
    wait_ms = [c["provider_ms"] for c in callbacks]
    print(f"\n## {label}")
    print(f"returning sign-in, {len(callbacks)} rounds (median per sign-in):")
    print("  step       provider-req  queries  writes  write-tx")
    for name, costs in (("start", starts), ("callback", callbacks), ("logout", logouts)):
        print(f"  {name:9s}  {summary(costs, 'provider'):12.0f}  {summary(costs, 'queries'):7.0f}"
              f"  {summary(costs, 'writes'):6.0f}  {summary(costs, 'transactions'):8.0f}")
    signin_tx = [s["transactions"] + c["transactions"] for s, c in zip(starts, callbacks)]
    signin_q = [s["queries"] + c["queries"] for s, c in zip(starts, callbacks)]
    print(f"  sign-in (start + callback): {statistics.median(signin_q):.0f} queries, "
          f"{statistics.median(signin_tx):.0f} write transactions; at the provider per sign-in: "
          + ", ".join(f"{k} {v:.2f}" for k, v in sorted(at_provider.items())))
    print(f"  callback: site's own {statistics.median(site_ms):6.2f} ms p50 {pct(site_ms, 95):6.2f} ms p95 "
          f"(database {summary(callbacks, 'db_ms'):.2f} ms, CPU {summary(callbacks, 'cpu_ms'):.2f} ms p50) | "
          f"waiting on the provider {statistics.median(wait_ms):6.2f} ms p50 | "
          f"whole sign-in seen by the browser {statistics.median(client_ms):6.2f} ms p50")
    print("page, median of", len(next(iter(pages.values()))), "requests:")
    print("  page                  status  queries  writes  site ms  cpu ms  browser ms")
    medians = {}
    for name, samples in pages.items():
        site = statistics.median(c["ms"] for c, _, _ in samples)
        cpu = statistics.median(c["cpu_ms"] for c, _, _ in samples)
        seen = statistics.median(ms for _, ms, _ in samples)
        medians[name] = (site, seen, cpu)
        print(f"  {name:20s}  {samples[0][2]:6d}  {statistics.median(c['queries'] for c, _, _ in samples):7.0f}"
              f"  {statistics.median(c['writes'] for c, _, _ in samples):6.0f}  {site:7.2f}  {cpu:6.2f}  {seen:10.2f}")
    for page, credential in (("heartbeat", "session"), ("users/me", "session"), ("users/me", "API token")):
        site = medians[f"{page} {credential}"][0] - medians[f"{page} anonymous"][0]
        seen = medians[f"{page} {credential}"][1] - medians[f"{page} anonymous"][1]
        cpu = medians[f"{page} {credential}"][2] - medians[f"{page} anonymous"][2]
        article = "an" if credential.startswith("API") else "a"
        print(f"  added by {article} {credential} on {page}: site {site:+.2f} ms (CPU {cpu:+.2f} ms), "
              f"browser {seen:+.2f} ms")


def interpreter_speed():
    """Milliseconds this interpreter takes for a fixed loop (median of 50): how fast this machine
    and build run Python right now. Builds differ: the image's python:3.12-slim is built with
    PGO and LTO, a pyenv build without; shared machines vary by the minute."""
    samples = []
    for _ in range(50):
        began = time.perf_counter()
        total = 0
        for i in range(200_000):
            total += i * i
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--signins", type=int, default=200)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--profiles", default="authentik,authelia")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--cache", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--postgres-synchronous-commit", choices=["on", "off"], default="on",
                        help="off: PostgreSQL does not wait for the disk at each commit (this database only)")
    args = parser.parse_args()
    print(f"gunicorn workers: {args.workers}, provider delay {args.delay_ms:g} ms, cache {args.cache}")
    print(f"interpreter: {sys.executable} (Python {sys.version.split()[0]}), "
          f"speed probe {interpreter_speed():.1f} ms (lower is faster)")
    for database in args.databases.split(","):
        for profile in args.profiles.split(","):
            with Stack(database=database, cache=args.cache, profile=profile, delay_ms=args.delay_ms,
                       workers=args.workers, name="romm_perf_signin",
                       synchronous_commit=args.postgres_synchronous_commit == "on") as stack:
                signins = measure_signins(stack, args.signins)
                pages = measure_pages(stack, args.pages)
                label = f"{database}, {profile}-like provider"
                if database == "postgres":
                    label += f", synchronous_commit {args.postgres_synchronous_commit}"
                report(label, signins, pages)


if __name__ == "__main__":
    main()
