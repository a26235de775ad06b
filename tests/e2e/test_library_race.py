"""The library JSON API under real concurrent requests: the site as a gunicorn process with 4 workers,
on SQLite (a fresh file) and on PostgreSQL (this branch's own database, emptied first)."""

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
import requests

from tests.e2e.conftest import ROOT, free_port

pytestmark = pytest.mark.e2e

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "romm_libapi"

SEED = """
from accounts.models import Role, User
from devices import client_tokens as tokens
from library.models import Platform

bob = User.objects.create_user("bob", role=Role.EDITOR)
platform = Platform.objects.create(name="Super Nintendo", slug="snes")
raw, _ = tokens.create(bob, "race", ["roms.read", "roms.write", "platforms.write"], None)
print(platform.pk, raw)
"""


def empty_postgres_database():
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}")
    return f"postgres://postgres@127.0.0.1:5432/{PG_DATABASE}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request):
    tmp = tempfile.mkdtemp(prefix="romm-race-")
    port = free_port()
    database = empty_postgres_database() if request.param == "postgresql" else f"sqlite:///{tmp}/site.sqlite3"
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OIDC_", "DJANGO_", "DATABASE_", "CACHE_"))
        },
        "DATABASE_URL": database,
        "CACHE_URL": "locmemcache://",
        "SECRET_KEY": "e2e-only",
        "ROMM_BASE_URL": f"http://127.0.0.1:{port}",
    }

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout

    manage("migrate", "--noinput")
    platform_id, raw = manage("shell", "-c", SEED).strip().splitlines()[-1].split()
    log = open(Path(tmp) / "site.log", "w+")
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    server = subprocess.Popen(
        [gunicorn, "romm_site.wsgi", "--workers", "4", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(url + "/healthz", timeout=5).status_code == 200:
                break
        except requests.RequestException:
            if time.monotonic() > deadline or server.poll() is not None:
                server.terminate()
                log.seek(0)
                raise RuntimeError("the site did not start:\n" + log.read()[-4000:]) from None
            time.sleep(0.2)
    yield url, int(platform_id), {"Authorization": f"Bearer {raw}"}
    server.terminate()
    server.wait(timeout=10)
    log.close()


def at_once(count, call):
    """Run ``call(index)`` from ``count`` threads released together; their responses."""
    barrier = threading.Barrier(count)
    responses = [None] * count

    def work(index):
        barrier.wait()
        responses[index] = call(index)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def test_simultaneous_creates_of_one_file_make_one_rom_and_clear_409s(site):
    url, platform_id, auth = site
    for round_ in range(12):  # the window between validating and saving is short: try it often
        body = {"platform_id": platform_id, "name": "Chrono Trigger", "file_name": f"chrono{round_}.sfc"}
        responses = at_once(
            8, lambda _, body=body: requests.post(url + "/api/roms", json=body, headers=auth, timeout=30)
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201] + [409] * 7, [r.text[:200] for r in responses]
        assert all(r.json()["detail"] for r in responses if r.status_code == 409)
    listed = requests.get(url + "/api/roms", params={"search": "chrono"}, headers=auth, timeout=10).json()
    assert listed["total"] == 12


def test_deleting_a_platform_while_roms_are_filed_under_it_never_orphans_them(site):
    url, _, auth = site
    for round_ in range(10):
        new = {"name": f"Handheld {round_}"}
        platform = requests.post(url + "/api/platforms", json=new, headers=auth, timeout=10).json()

        def call(index, platform=platform, round_=round_):
            if index == 0:
                return requests.delete(f"{url}/api/platforms/{platform['id']}", headers=auth, timeout=30)
            body = {
                "platform_id": platform["id"],
                "name": f"Game {index}",
                "file_name": f"g{round_}-{index}.gb",
            }
            return requests.post(url + "/api/roms", json=body, headers=auth, timeout=30)

        responses = at_once(6, call)
        assert all(r.status_code in (201, 204, 400, 409) for r in responses), [
            r.text[:200] for r in responses
        ]
        deleted = any(r.status_code == 204 for r in responses)
        created = [r.json()["id"] for r in responses if r.status_code == 201]
        for rom_id in created:  # every ROM that was created still has its platform
            rom = requests.get(f"{url}/api/roms/{rom_id}", headers=auth, timeout=10)
            assert rom.status_code == 200 and rom.json()["platform_id"] == platform["id"]
        assert not (deleted and created)
