"""Benchmark: GET /api/roms with an app token against the same request with a session cookie.

Run: .venv/bin/python bench/api.py [--requests 400] [--concurrency 4] [--roms 300]
                                   [--database postgres://postgres@127.0.0.1:5432/romm_bench]

Starts the site under gunicorn (4 sync workers) on 127.0.0.1 with a fresh SQLite file (or the
given PostgreSQL database, which it empties first), files a few hundred ROMs, then sends the same
``GET /api/roms`` (the first page of 50) with each credential: a session cookie (from
``/api/login``), a client API token (``rmm_…``), a device token, and the legacy password-grant
bearer (``/api/token``). Latency is measured one request at a time, the credentials taking
turns request by request so a busy moment of the (shared) machine hits all of them alike;
``added ms`` is a credential's median minus the session cookie's. Requests per second are
measured with ``--concurrency`` clients at once, ``--requests`` per credential in rounds that
alternate between credentials. ``--seconds`` caps the run (no new round starts after it).
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
PASSWORD = "bench-password-not-secret"
ROUNDS = 4
SESSION_COOKIE = "romm_session"  # the site's SESSION_COOKIE_NAME, as RomM names it

SEED = """
from accounts.models import Role, User
from devices import client_tokens as tokens
from devices.models import Device
from library.models import Platform, Rom

bob = User.objects.create_user("bob", password={password!r}, role=Role.EDITOR)
platforms = [Platform.objects.create(name=f"Platform {{i}}", slug=f"p{{i}}") for i in range(6)]
Rom.objects.bulk_create(
    Rom(name=f"Game {{i:04d}}", platform=platforms[i % 6], file_name=f"game{{i:04d}}.bin", size_bytes=i * 1024)
    for i in range({roms})
)
raw, _ = tokens.create(bob, "bench", ["roms.read"], None)
device = Device.objects.create(user=bob, client_device_identifier="bench-1", name="Bench", client="bench")
device_raw, _ = tokens.create(bob, "bench device", ["roms.read"], None, device=device)
print(raw, device_raw)
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env, *args):
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        sys.exit(f"manage.py {args[0]} failed:\n{result.stderr}")
    return result.stdout


def start_site(env, port):
    server = subprocess.Popen(
        [
            GUNICORN,
            "romm_site.wsgi",
            "--workers",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return server
        except requests.RequestException:  # not listening yet, or a worker still starting
            time.sleep(0.2)
    server.terminate()
    sys.exit("the site did not start within 30 s")


def credentials(base, client_raw, device_raw):
    """name -> (headers, cookies) for each way of calling ``GET /api/roms``."""
    session = requests.Session()
    login = session.post(f"{base}/api/login", auth=("bob", PASSWORD), timeout=10)
    login.raise_for_status()
    grant = requests.post(
        f"{base}/api/token",
        data={"grant_type": "password", "username": "bob", "password": PASSWORD},
        timeout=10,
    )
    grant.raise_for_status()
    return {
        "session cookie": ({}, {SESSION_COOKIE: session.cookies[SESSION_COOKIE]}),
        "client token": ({"Authorization": f"Bearer {client_raw}"}, {}),
        "device token": ({"Authorization": f"Bearer {device_raw}"}, {}),
        "legacy bearer": ({"Authorization": f"Bearer {grant.json()['access_token']}"}, {}),
    }


def one(http, url, headers, cookies):
    start = time.perf_counter()
    response = http.get(url, headers=headers, cookies=cookies, timeout=10)
    elapsed = time.perf_counter() - start
    if response.status_code != 200 or len(response.json()["items"]) != 50:
        raise SystemExit(f"unexpected answer {response.status_code}: {response.text[:200]}")
    return elapsed


def sequential(url, credential, count):
    """Latencies of ``count`` requests sent one after the other."""
    with requests.Session() as http:
        return [one(http, url, *credential) for _ in range(count)]


def concurrent(url, credential, count, clients):
    """Requests per second with ``clients`` sending ``count`` requests in all."""
    share = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]

    def work(n):
        with requests.Session() as http:
            for _ in range(n):
                one(http, url, *credential)

    threads = [threading.Thread(target=work, args=(n,)) for n in share]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return count / (time.perf_counter() - start)


def run(database_label, env, args):
    port = free_port()
    env = {**env, "ROMM_BASE_URL": f"http://127.0.0.1:{port}"}
    manage(env, "migrate", "--noinput")
    if database_label == "PostgreSQL":
        manage(env, "flush", "--noinput")
    seeded = manage(env, "shell", "-c", SEED.format(password=PASSWORD, roms=args.roms))
    client_raw, device_raw = seeded.strip().splitlines()[-1].split()
    server = start_site(env, port)
    try:
        base = f"http://127.0.0.1:{port}"
        url = f"{base}/api/roms"
        ways = credentials(base, client_raw, device_raw)
        for credential in ways.values():  # warm every worker's connections and caches
            sequential(url, credential, 8)
        latencies = {name: [] for name in ways}
        rates = {name: [] for name in ways}
        deadline = time.monotonic() + args.seconds
        per_round = max(1, args.requests // ROUNDS)
        for _ in range(ROUNDS):
            if time.monotonic() > deadline:
                break
            # One request per credential in turn, so a busy moment of the machine hits all alike.
            with requests.Session() as http:
                for _ in range(per_round // 2):
                    for name, credential in ways.items():
                        latencies[name].append(one(http, url, *credential))
            for name, credential in ways.items():
                rates[name].append(concurrent(url, credential, per_round, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=10)
    baseline = statistics.median(latencies["session cookie"])
    print(
        f"\n{database_label}: GET /api/roms (50 of {args.roms} ROMs), gunicorn 4 workers, "
        f"{args.concurrency} concurrent clients"
    )
    print(
        f"{'credential':16s} {'requests':>8s} {'req/s':>8s} {'median ms':>10s} {'p95 ms':>8s} {'added ms':>9s}"
    )
    for name in ways:
        done = latencies[name]
        if not done:
            print(f"{name:16s} (no time left)")
            continue
        p95 = sorted(done)[max(0, int(len(done) * 0.95) - 1)]
        added = (statistics.median(done) - baseline) * 1000
        print(
            f"{name:16s} {len(done) + per_round * len(rates[name]):8d} {statistics.median(rates[name]):8.1f} "
            f"{statistics.median(done) * 1000:10.2f} {p95 * 1000:8.2f} {added:+9.2f}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="concurrent requests per credential")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--roms", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=120, help="stop starting new rounds after this")
    parser.add_argument("--database", help="a PostgreSQL URL to run against as well (it is emptied)")
    args = parser.parse_args()
    base_env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OIDC_", "DJANGO_", "DATABASE_", "CACHE_"))
        },
        "SECRET_KEY": "bench-only",
        "LOG_LEVEL": "WARNING",
        "CACHE_URL": "locmemcache://",
    }
    with tempfile.TemporaryDirectory(prefix="romm-bench-") as tmp:
        run("SQLite", {**base_env, "DATABASE_URL": f"sqlite:///{tmp}/site.sqlite3"}, args)
    if args.database:
        run("PostgreSQL", {**base_env, "DATABASE_URL": args.database}, args)


if __name__ == "__main__":
    main()
