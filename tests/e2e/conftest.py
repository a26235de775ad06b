"""End-to-end fixtures: the site and the local provider as real processes on free ports.

By default the site is ``manage.py runserver`` (one process) on an SQLite file with a
local-memory cache. CI runs the suite a second time the way several workers share state:

    E2E_SERVER=gunicorn       the site under gunicorn with E2E_WORKERS (default 4) processes
    E2E_DATABASE=postgres     a PostgreSQL database per stack, made on E2E_POSTGRES_URL
                              (default postgres://postgres@127.0.0.1:5432/romm_e2e: the name is a
                              prefix) and dropped when the stack stops
    E2E_CACHE_URL=redis://…   the cache, shared by every process of a stack (keys prefixed per stack)
"""

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from devidp.testing import start_devidp, stop_devidp

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "romm-e2e"
CLIENT_SECRET = "e2e secret/with+odd:chars"
PASSWORD = "demo"

pytestmark = pytest.mark.e2e

SERVER = os.environ.get("E2E_SERVER", "runserver")
WORKERS = int(os.environ.get("E2E_WORKERS", "4"))
DATABASE = os.environ.get("E2E_DATABASE", "sqlite")
POSTGRES_URL = os.environ.get("E2E_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/romm_e2e")
CACHE_URL = os.environ.get("E2E_CACHE_URL", "locmemcache://")


def postgres(statement):
    import psycopg

    server = POSTGRES_URL.rsplit("/", 1)[0]
    with psycopg.connect(server + "/postgres", autocommit=True) as connection:
        connection.execute(statement)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    """One provider profile (or two, with ``second``) and one site configured against it."""

    def __init__(self, profile, site_env=None, second=None, provider_args=()):
        self.profile = profile
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # provider_args: more devidp options; "{site}" stands for this site's URL.
        self.provider, self.provider_url, self.issuer = start_devidp(
            profile, CLIENT_ID, CLIENT_SECRET, [f"{self.url}/api/oauth/openid"], [f"{self.url}/login"],
            extra_args=[arg.format(site=self.url) for arg in provider_args],
        )
        self.second = None
        if second:
            self.second, self.second_url, second_issuer = start_devidp(
                second, CLIENT_ID, CLIENT_SECRET, [f"{self.url}/api/oauth/openid/{second}"], [f"{self.url}/login"]
            )
            prefix = f"OIDC_{second.upper()}_"
            site_env = {
                "OIDC_PROVIDERS": f"{profile},{second}",
                f"OIDC_{profile.upper()}_PROVIDER": profile,
                f"OIDC_{profile.upper()}_SERVER_APPLICATION_URL": self.issuer,
                prefix + "PROVIDER": second,
                prefix + "SERVER_APPLICATION_URL": second_issuer,
                prefix + "RP_INITIATED_LOGOUT": "false",
                **(site_env or {}),
            }
        self.tmp = tempfile.mkdtemp(prefix="romm-e2e-")
        self.database = None
        if DATABASE == "postgres":
            self.database = f"{POSTGRES_URL.rsplit('/', 1)[1]}_{secrets.token_hex(4)}"
            postgres(f'CREATE DATABASE "{self.database}"')
            database_url = f"{POSTGRES_URL.rsplit('/', 1)[0]}/{self.database}"
        else:
            database_url = f"sqlite:///{self.tmp}/site.sqlite3"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OIDC_", "DJANGO_"))},
            "DATABASE_URL": database_url,
            "CACHE_URL": CACHE_URL,
            # Stacks alive at once share the cache server; their keys (rate limits!) must not meet.
            "CACHE_KEY_PREFIX": f"e2e-{secrets.token_hex(4)}",
            "GUNICORN_WORKERS": str(WORKERS if SERVER == "gunicorn" else 1),
            "SECRET_KEY": "e2e-only",
            "ROMM_BASE_URL": self.url,
            "OIDC_ENABLED": "true",
            "OIDC_PROVIDER": profile,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_SERVER_APPLICATION_URL": self.issuer,
            "OIDC_CLAIM_ROLES": "groups",
            "OIDC_ROLE_ADMIN": "romm-admins",
            "OIDC_ROLE_EDITOR": "romm-editors",
            "OIDC_ROLE_VIEWER": "romm-viewers",
            "OIDC_RP_INITIATED_LOGOUT": "true" if profile == "authentik" else "false",
            "PYTHONUNBUFFERED": "1",
            **(site_env or {}),
        }
        self.site = None
        try:
            self._manage("migrate", "--noinput")
            self._manage(
                "shell", "-c",
                "from accounts.models import User; "
                "User.objects.create_user('frank', email='frank@example.com', password='a-long-password-1')",
            )
            self.log = open(Path(self.tmp) / "site.log", "w+")
            if SERVER == "gunicorn":
                command = [sys.executable, "-m", "gunicorn", "romm_site.wsgi", "--workers", str(WORKERS),
                           "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "5"]
            else:
                command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"]
            self.site = subprocess.Popen(
                command,
                cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise

    def _manage(self, *args):
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True,
                       capture_output=True, timeout=120)

    def _wait_until_up(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.site.poll() is not None:
                raise RuntimeError("the site exited:\n" + self.site_log())
            try:
                if requests.get(self.url + "/login?local=1", timeout=2).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.2)
        raise RuntimeError("the site did not start:\n" + self.site_log())

    def site_log(self):
        self.log.seek(0)
        return self.log.read()[-4000:]

    def stop(self):
        if self.site and self.site.poll() is None:
            self.site.terminate()
            self.site.wait(timeout=10)
        stop_devidp(self.provider)
        if self.second:
            stop_devidp(self.second)
        if self.database:
            postgres(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["authentik", "authelia"])
def stack(request):
    started = Stack(request.param)
    yield started
    started.stop()


@pytest.fixture(scope="session")
def closed_stack():
    """An Authentik-like stack with registration off."""
    started = Stack("authentik", {"OIDC_ALLOW_REGISTRATION": "false"})
    yield started
    started.stop()


@pytest.fixture(scope="session")
def two_providers():
    """Authentik-like first, Authelia-like second, both serving one site."""
    started = Stack("authentik", second="authelia")
    yield started
    started.stop()


# The recheck interval of the ``following`` stacks.
RECHECK_SECONDS = 1


@pytest.fixture(scope="session", params=["authentik", "authelia"])
def following(request):
    """A site with OIDC_SESSION_RECHECK_SECONDS=1 that mirrors the romm-* and staff groups, and a
    provider configured for refresh tokens; one stack per profile, shared by the recheck, app
    recheck and group tests."""
    started = Stack(
        request.param,
        {"OIDC_SESSION_RECHECK_SECONDS": str(RECHECK_SECONDS), "OIDC_GROUPS": "romm-*,staff"},
        provider_args=["--offline-access", "--backchannel-logout-uri", "{site}/api/oauth/backchannel-logout"],
    )
    yield started
    started.stop()


@pytest.fixture(scope="session")
def chromium():
    """Headless Debian Chromium through Playwright, or a skip that says how to enable it."""
    executable = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(executable):
        pytest.skip(f"browser tests need Chromium at {executable}: apt-get install chromium chromium-driver")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need: pip install playwright")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture
def artifacts(request):
    """Folder for screenshots of this run (not committed)."""
    folder = ROOT / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder
