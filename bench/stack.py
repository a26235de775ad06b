"""The processes a measured-from-outside benchmark needs: the fake provider, a database, gunicorn.

    with Stack(database="postgres", cache="redis://127.0.0.1:6379/4") as stack:
        browser = stack.browser()
        browser.sign_in("alice")

Everything listens on 127.0.0.1 only; PostgreSQL databases made here are named ``romm_perf_*``
and dropped again, an SQLite file lives in a temporary folder.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from fakeprovider import CLIENT_ID, CLIENT_SECRET  # noqa: E402

POSTGRES = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
PASSWORD = "bench-password-long-enough"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_admin(statement):
    import psycopg

    with psycopg.connect(POSTGRES + "/postgres", autocommit=True) as conn:
        conn.execute(statement)


class Stack:
    def __init__(self, database="sqlite", cache="redis://127.0.0.1:6379/4", profile="authentik",
                 delay_ms=20.0, workers=4, env=None, name="romm_perf_bench", synchronous_commit=True,
                 provider_args=()):
        assert name.startswith("romm_perf"), "benchmark databases are named romm_perf*"
        self.database, self.cache, self.name = database, cache, name
        self.tmp = tempfile.mkdtemp(prefix="romm-bench-")
        self.processes = []
        provider_port, self.port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.provider_url = f"http://127.0.0.1:{provider_port}"
        if database == "postgres":
            postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            postgres_admin(f'CREATE DATABASE "{name}"')
            if not synchronous_commit:
                # What the site costs without waiting for the disk's flush at each commit.
                postgres_admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
            database_url = f"{POSTGRES}/{name}"
        else:
            database_url = f"sqlite:///{self.tmp}/site.sqlite3"
        try:
            self._setup(database_url, cache, profile, delay_ms, provider_port, workers, env, provider_args)
        except BaseException:
            self.close()
            raise

    def _setup(self, database_url, cache, profile, delay_ms, provider_port, workers, env, provider_args):
        if cache.startswith("redis://"):
            number = int(cache.rsplit("/", 1)[1])
            # Flushed first: only a database set aside for benchmarks (BENCH_REDIS_DBS, default 4,5).
            allowed = [int(n) for n in os.environ.get("BENCH_REDIS_DBS", "4,5").split(",")]
            assert number in allowed, f"benchmarks use Redis DB {allowed} (BENCH_REDIS_DBS)"
            import redis

            redis.Redis.from_url(cache).flushdb()
        provider = self._start([sys.executable, str(BENCH / "fakeprovider.py"), "--port", str(provider_port),
                                "--profile", profile, "--delay-ms", str(delay_ms), *provider_args], "provider")
        self.issuer = self._wait_for_line(provider, "fakeprovider ready: ").strip()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OIDC_", "DJANGO_", "DATABASE_", "CACHE_"))},
            "DATABASE_URL": database_url,
            "CACHE_URL": cache,
            "SECRET_KEY": "bench-only-" + "x" * 40,
            "ROMM_BASE_URL": self.url,
            "LOG_LEVEL": "ERROR",
            "OIDC_ENABLED": "true",
            "OIDC_PROVIDER": profile,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_SERVER_APPLICATION_URL": self.issuer,
            "OIDC_CLAIM_ROLES": "groups",
            "OIDC_ROLE_VIEWER": "romm-viewers",
            "OIDC_ROLE_ADMIN": "romm-admins",
            "GUNICORN_WORKERS": str(workers),
            "PYTHONWARNINGS": "ignore",
            **(env or {}),
        }
        self.manage("migrate", "--noinput")
        self.manage("shell", "-c", "from accounts.models import User; "
                    f"User.objects.create_user('bench-password', password={PASSWORD!r})")
        self.site = self._start(
            [sys.executable, "-m", "gunicorn", "countingwsgi:application", "--pythonpath", str(BENCH),
             "--chdir", str(ROOT), "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
             "--graceful-timeout", "5"], "site")
        self._wait_until_up()

    def _start(self, command, name):
        log = open(Path(self.tmp) / f"{name}.log", "w+")
        process = subprocess.Popen(command, cwd=ROOT, env=getattr(self, "env", None) or dict(os.environ),
                                   stdout=subprocess.PIPE if name == "provider" else log,
                                   stderr=log, stdin=subprocess.DEVNULL, text=True)
        process.log = log
        self.processes.append(process)
        return process

    @staticmethod
    def _wait_for_line(process, prefix):
        line = process.stdout.readline()
        if not line.startswith(prefix):
            raise RuntimeError(f"fake provider did not start: {line!r}")
        return line[len(prefix):]

    def _wait_until_up(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.site.poll() is not None:
                raise RuntimeError("gunicorn exited: " + self.log_of(self.site))
            try:
                if requests.get(self.url + "/healthz", timeout=10).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start: " + self.log_of(self.site))

    @staticmethod
    def log_of(process):
        process.log.seek(0)
        return process.log.read()[-3000:]

    def manage(self, *args):
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env,
                                capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed: {result.stderr[-2000:]}")
        return result.stdout

    def provider_stats(self):
        return requests.get(self.provider_url + "/stats", timeout=5).json()

    def browser(self):
        return Browser(self)

    def api_token(self):
        response = requests.post(self.url + "/api/token", data={
            "grant_type": "password", "username": "bench-password", "password": PASSWORD}, timeout=30)
        response.raise_for_status()
        return response.json()["access_token"]

    def close(self):
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            process.log.close()
        if self.database == "postgres":
            postgres_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Browser:
    """One person's browser: a cookie jar, following the redirects a sign-in takes by hand."""

    def __init__(self, stack):
        self.stack = stack
        self.http = requests.Session()

    def get(self, path, **kwargs):
        return self.http.get(self.stack.url + path, allow_redirects=False, timeout=30, **kwargs)

    def sign_in(self, person):
        """Start, visit the provider, come back; returns the callback's response."""
        start = self.get("/api/login/openid")
        if start.status_code != 302:
            raise RuntimeError(f"start answered {start.status_code}")
        authorize = self.http.get(start.headers["Location"] + "&person=" + person, allow_redirects=False, timeout=30)
        callback_url = authorize.headers["Location"]
        callback = self.http.get(callback_url, allow_redirects=False, timeout=30)
        if callback.status_code != 302 or callback.headers["Location"].startswith("/login"):
            raise RuntimeError(f"sign-in of {person} refused: {callback.status_code} {callback.headers.get('Location')}")
        return start, callback

    def sign_out(self):
        page = self.get("/logout")
        token = CSRF_FIELD.search(page.text)
        if page.status_code != 200 or token is None:
            raise RuntimeError(f"logout page answered {page.status_code}")
        response = self.http.post(self.stack.url + "/logout", data={"csrfmiddlewaretoken": token.group(1)},
                                  allow_redirects=False, timeout=30)
        if response.status_code != 302:
            raise RuntimeError(f"logout answered {response.status_code}")
        return response


def cost(response):
    """The counters countingwsgi put on ``response``."""
    h = response.headers
    return {
        "queries": int(h["X-Bench-Queries"]),
        "writes": int(h["X-Bench-Writes"]),
        "transactions": int(h["X-Bench-Transactions"]),
        "provider": int(h["X-Bench-Provider"]),
        "provider_ms": float(h["X-Bench-Provider-Ms"]),
        "ms": float(h["X-Bench-Ms"]),
        "db_ms": float(h["X-Bench-Db-Ms"]),
        "cpu_ms": float(h["X-Bench-Cpu-Ms"]),
    }
