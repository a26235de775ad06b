"""``/healthz``: database and cache reachability for orchestrators, and nothing more."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.db import OperationalError, connection

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def test_healthy_site_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_database_down_answers_503_without_details(client, monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise OperationalError('connection to server at "db" (10.0.0.3), port 5432 failed: password authentication failed for user "romm"')

    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "error", "cache": "ok"}
    assert "healthz: database unreachable: OperationalError" in caplog.text


class UnreachableCache(LocMemCache):
    """A cache whose server is down: reads and writes fail (clearing it is the fixture's, let it pass)."""

    def set(self, *args, **kwargs):
        raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")

    get = set


def test_cache_down_answers_503(client, settings):
    settings.CACHES = {"default": {"BACKEND": "tests.deploy.test_health.UnreachableCache"}}
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "cache": "error"}


def test_only_reads_are_allowed(client):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_healthz_is_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/login").status_code == 301


@pytest.mark.django_db(transaction=True)
def test_container_healthcheck_script_follows_healthz(live_server):
    port = live_server.url.rsplit(":", 1)[1]
    script = [sys.executable, str(ROOT / "deploy" / "healthcheck.py")]
    env = {**os.environ, "PORT": port, "ROMM_BASE_URL": "'http://localhost:8000'"}
    assert subprocess.run(script, env=env, capture_output=True, timeout=30).returncode == 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = str(sock.getsockname()[1])
    result = subprocess.run(script, env={**env, "PORT": closed}, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "healthz:" in result.stderr
