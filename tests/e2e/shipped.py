"""The site as the container starts it: ``deploy/start.sh`` (checks, migrate, cleanup, gunicorn).

Used by the end-to-end tests that read what the shipped configuration writes down (its access
log) or does on its own (the scheduled cleanup). Password sign-in only: no provider is needed.
The cache follows E2E_CACHE_URL (two workers on Redis; one worker with the per-process default,
whose counters a second worker would not share), the database E2E_DATABASE.
"""

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.e2e.conftest import CACHE_URL, DATABASE, POSTGRES_URL, ROOT, free_port, postgres

PASSWORD = "a-long-password-1"


class ShippedSite:
    def __init__(self, seed="", **site_env):
        """``seed``: Django shell code run after the migration, before the container starts."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = Path(tempfile.mkdtemp(prefix="romm-shipped-"))
        self.database = None
        if DATABASE == "postgres":
            self.database = f"{POSTGRES_URL.rsplit('/', 1)[1]}_{secrets.token_hex(4)}"
            postgres(f'CREATE DATABASE "{self.database}"')
            database_url = f"{POSTGRES_URL.rsplit('/', 1)[0]}/{self.database}"
        else:
            database_url = f"sqlite:///{self.tmp}/site.sqlite3"
        shared_cache = not CACHE_URL.startswith("locmem")
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("OIDC_", "DJANGO_", "GUNICORN_"))}
        self.env = {
            **inherited,
            # start.sh runs `python` and `gunicorn`: this interpreter's.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), inherited.get("PATH", "")]),
            "DATABASE_URL": database_url,
            "CACHE_URL": CACHE_URL,
            "CACHE_KEY_PREFIX": f"e2e-{secrets.token_hex(4)}",
            "GUNICORN_WORKERS": "2" if shared_cache else "1",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ROMM_BASE_URL": self.url,
            "PORT": str(self.port),
            # The tests speak for several clients through X-Forwarded-For, as a proxy would.
            "TRUST_PROXY_HEADERS": "true",
            "PYTHONUNBUFFERED": "1",
            **site_env,
        }
        self.process = None
        try:
            self.manage("migrate", "--noinput")
            self.manage(
                "shell", "-c",
                f"from accounts.models import User; User.objects.create_user('frank', password={PASSWORD!r})\n"
                + seed,
            )
            self.log = open(self.tmp / "site.log", "w+")
            # Its own process group: start.sh leaves the cleanup loop running beside gunicorn.
            self.process = subprocess.Popen(
                ["sh", "deploy/start.sh"], cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise

    def manage(self, *args):
        done = subprocess.run([sys.executable, "manage.py", *args], check=False, cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def query(self, code):
        """Run ``code`` in the site's Django and return the last line it prints."""
        return self.manage("shell", "-c", code).strip().splitlines()[-1]

    def _wait_until_up(self):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("deploy/start.sh exited:\n" + self.read_log())
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.3)
        raise RuntimeError("the site did not start:\n" + self.read_log())

    def read_log(self, settle=0.5):
        """Everything the container printed so far (access log and the site's own log)."""
        time.sleep(settle)  # gunicorn writes the access line after the response is sent
        return (self.tmp / "site.log").read_text(errors="replace")

    def signed_in(self, username="frank", password=PASSWORD):
        """A browser session signed in through the password form."""
        browser = requests.Session()
        page = browser.get(f"{self.url}/login?local=1", timeout=10)
        response = browser.post(
            f"{self.url}/login?local=1",
            data={"csrfmiddlewaretoken": csrf_of(page.text), "username": username, "password": password},
            headers={"Referer": f"{self.url}/login"}, allow_redirects=False, timeout=10,
        )
        assert response.status_code == 302, response.text[-2000:]
        return browser

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process is not None:
            try:  # the cleanup loop, if it outlived gunicorn
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if self.database:
            postgres(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


def csrf_of(html):
    import re

    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
