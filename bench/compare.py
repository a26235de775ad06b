"""Benchmark: this site's sign-in callback side by side with stock mozilla-django-oidc's, in one run.

Run: /path/to/python bench/compare.py [--signins 100] [--delay-ms 20] [--databases sqlite,postgres]
         [--profiles authentik,authelia] [--workers 4] [--site-env NAME=VALUE ...]
         [--ignore-claims-parameter] [--handshake-ms 0]

For each database and provider profile, one bench/fakeprovider.py answers two sites, each under
gunicorn with the same number of workers and a database of the same kind: this site
(bench/stack.py) and stock mozilla-django-oidc (bench/stock/: its own views and backend, set up
as its documentation says). Sign-ins alternate between the two, so a machine busy with other
work slows both alike. Each callback's cost comes from bench/countingwsgi.py.

Printed per database and profile, for each site: provider requests of a returning person's
sign-in (start + callback, discovery and keys cached), the callback's time p50 / p95 in the server
with the provider waits, the wait, the site's own time, the callback's CPU time (its HTTP client's
work included; steadier than wall time on a machine busy with other work), and the ratio of the
two callbacks' p50.
``--site-env OIDC_CLAIMS_PARAMETER=false`` shows this site without the claims parameter;
``--ignore-claims-parameter``, an Authelia-like provider that advertises it but ignores it.
``--handshake-ms 20`` charges a new connection to the provider one more round trip, as TCP's
handshake across a real network does (TLS adds one or two more): this site keeps its connection
to the provider open between sign-ins, stock opens one per request.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from stack import BENCH, POSTGRES, ROOT, Stack, cost, free_port, postgres_admin

PEOPLE = [f"person{i}" for i in range(10)]


class StockSite:
    """Stock mozilla-django-oidc under gunicorn, against the provider at ``provider_url``."""

    def __init__(self, database, provider_url, workers, name):
        self.tmp = tempfile.mkdtemp(prefix="romm-bench-stock-")
        self.database, self.name = database, name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if database == "postgres":
            postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            postgres_admin(f'CREATE DATABASE "{name}"')
            database_url = f"{POSTGRES}/{name}"
        else:
            database_url = f"sqlite:///{self.tmp}/stock.sqlite3"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OIDC_", "DJANGO_", "DATABASE_"))},
            "DJANGO_SETTINGS_MODULE": "stock.settings",
            "PYTHONPATH": os.pathsep.join([str(BENCH), str(ROOT)]),
            "DATABASE_URL": database_url,
            "BENCH_PROVIDER_URL": provider_url,
            "PYTHONWARNINGS": "ignore",
        }
        self.log = open(Path(self.tmp) / "stock.log", "w+")  # noqa: SIM115 (open while gunicorn runs)
        self.process = None
        try:
            subprocess.run([sys.executable, "-m", "django", "migrate", "--noinput"], cwd=ROOT, env=self.env,
                           check=True, capture_output=True, timeout=300)
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "countingwsgi:application", "--pythonpath", str(BENCH),
                 "--chdir", str(ROOT), "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
                 "--graceful-timeout", "5"],
                cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
            self._wait_until_up()
        except BaseException:
            self.close()
            raise

    def _wait_until_up(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError("stock gunicorn exited: " + self.log.read()[-3000:])
            try:
                if requests.get(self.url + "/", timeout=10).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.2)
        raise RuntimeError("stock gunicorn did not start")

    def browser(self):
        return StockBrowser(self)

    def close(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        if self.database == "postgres":
            postgres_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        shutil.rmtree(self.tmp, ignore_errors=True)


class StockBrowser:
    """One person's browser on the stock site; every sign-in starts without a session."""

    def __init__(self, site):
        self.site = site
        self.http = requests.Session()

    def sign_in(self, person):
        self.http.cookies.clear()
        start = self.http.get(self.site.url + "/oidc/authenticate/", allow_redirects=False, timeout=30)
        if start.status_code != 302:
            raise RuntimeError(f"stock start answered {start.status_code}")
        authorize = self.http.get(start.headers["Location"] + "&person=" + person, allow_redirects=False, timeout=30)
        callback = self.http.get(authorize.headers["Location"], allow_redirects=False, timeout=30)
        if callback.status_code != 302 or callback.headers["Location"] != "/":
            raise RuntimeError(f"stock sign-in of {person} failed: {callback.status_code} "
                               f"{callback.headers.get('Location')}")
        return start, callback


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def measure(stack, stock, count):
    """Alternate returning sign-ins on both sites; the (start, callback) costs of each."""
    ours = {person: stack.browser() for person in PEOPLE}
    theirs = {person: stock.browser() for person in PEOPLE}
    for _ in range(3):  # first sign-ins make the accounts; more warm every worker's connection and caches
        for person in PEOPLE:
            ours[person].sign_in(person)
            ours[person].sign_out()
            theirs[person].sign_in(person)
    results = {"site": [], "stock": []}
    for index in range(count):
        person = PEOPLE[index % len(PEOPLE)]
        start, callback = ours[person].sign_in(person)
        results["site"].append((cost(start), cost(callback)))
        ours[person].sign_out()
        start, callback = theirs[person].sign_in(person)
        results["stock"].append((cost(start), cost(callback)))
    return results


def report(label, results):
    print(f"\n## {label}, {len(results['site'])} returning sign-ins each")
    print("  site                 provider   callback p50      p95 | provider wait p50 | site's own p50"
          "      p95 | callback CPU p50")
    medians = {}
    for key, name in (("site", "this site"), ("stock", "mozilla-django-oidc")):
        pairs = results[key]
        callbacks = [c["ms"] for _, c in pairs]
        own = [c["ms"] - c["provider_ms"] for _, c in pairs]
        requests_ = statistics.median(s["provider"] + c["provider"] for s, c in pairs)
        medians[key] = statistics.median(callbacks)
        print(f"  {name:20s} {requests_:4.0f} req  {medians[key]:9.2f} ms {pct(callbacks, 95):6.1f} ms"
              f" | {statistics.median(c['provider_ms'] for _, c in pairs):14.2f} ms"
              f" | {statistics.median(own):11.2f} ms {pct(own, 95):6.1f} ms"
              f" | {statistics.median(c['cpu_ms'] for _, c in pairs):13.2f} ms")
    print(f"  callback p50, this site / stock: {medians['site'] / medians['stock']:.3f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signins", type=int, default=100)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--profiles", default="authentik,authelia")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--cache", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--name", default="romm_perf_compare", help="PostgreSQL database name prefix (romm_perf*)")
    parser.add_argument("--site-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for this site (repeatable)")
    parser.add_argument("--ignore-claims-parameter", action="store_true",
                        help="the Authelia-like provider advertises the claims parameter but ignores it")
    parser.add_argument("--handshake-ms", type=float, default=0.0,
                        help="a new connection to the provider waits this much more (TCP/TLS handshakes)")
    args = parser.parse_args()
    site_env = dict(item.split("=", 1) for item in args.site_env)
    provider_args = ["--ignore-claims-parameter"] if args.ignore_claims_parameter else []
    provider_args += ["--handshake-ms", str(args.handshake_ms)]
    print(f"gunicorn workers: {args.workers} per site, provider delay {args.delay_ms:g} ms "
          f"(+{args.handshake_ms:g} ms on a new connection), cache {args.cache}, site env {site_env or '-'}"
          f"{', provider ignores the claims parameter' if args.ignore_claims_parameter else ''}")
    print(f"interpreter: {sys.executable} (Python {sys.version.split()[0]})")
    for database in args.databases.split(","):
        for profile in args.profiles.split(","):
            with Stack(database=database, cache=args.cache, profile=profile, delay_ms=args.delay_ms,
                       workers=args.workers, name=args.name, env=site_env, provider_args=provider_args) as stack:
                stock = StockSite(database, stack.provider_url, args.workers, args.name + "_stock")
                try:
                    results = measure(stack, stock, args.signins)
                finally:
                    stock.close()
            report(f"{database}, {profile}-like provider {args.delay_ms:g} ms away", results)


if __name__ == "__main__":
    main()
