"""Races against a real, threaded server process: what must happen once happens once.

The site runs as its own process (runserver, one thread per request) on SQLite, or on the
PostgreSQL named by DATABASE_URL when set, so the single-use rules are tested where several
requests really meet in the database.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import ROOT, free_port

pytestmark = pytest.mark.e2e


class Site:
    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tempfile.mkdtemp(prefix="romm-races-")
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OIDC_", "DJANGO_"))},
            "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{self.tmp}/site.sqlite3",
            "CACHE_URL": os.environ.get("CACHE_URL") or "locmemcache://",
            "SECRET_KEY": "races-only",
            "ROMM_BASE_URL": self.url,
            "PYTHONUNBUFFERED": "1",
        }
        self.manage("migrate", "--noinput")
        self.log = open(Path(self.tmp) / "site.log", "w+")  # noqa: SIM115 (lives as long as the server)
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/healthz", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise RuntimeError("the site did not start")

    def manage(self, *args):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout

    def shell(self, code):
        """Run ``code`` in the site's Django; it prints one JSON line, returned parsed."""
        return json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def site():
    started = Site()
    yield started
    started.stop()


def at_once(count, request):
    """``count`` threads released together by a barrier; their responses."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(i):
        barrier.wait()
        results[i] = request()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_simultaneous_exchanges_of_one_code_one_wins(site):
    name = f"racer-{uuid.uuid4().hex[:8]}"
    made = site.shell(
        "import json; from accounts.models import User; from devices import client_tokens as tokens, pairing; "
        f"u = User.objects.create_user({name!r}, password='a-long-password-1'); "
        "raw, t = tokens.create(u, 'deck', ['me.read'], None); "
        "print(json.dumps({'raw': raw, 'code': pairing.create(t), 'id': t.pk}))"
    )
    # 5 = the per-address limit of exchanges a minute: every try reaches the code.
    results = at_once(
        5,
        lambda: requests.post(
            site.url + "/api/client-tokens/exchange", json={"code": made["code"]}, timeout=30
        ),
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 404, 404, 404, 404], [r.text for r in results]
    winner = next(r for r in results if r.status_code == 200).json()["raw_token"]
    me = lambda raw: requests.get(
        site.url + "/api/users/me", headers={"Authorization": f"Bearer {raw}"}, timeout=10
    )
    assert me(winner).json()["username"] == name
    assert me(made["raw"]).status_code == 401


def test_simultaneous_polls_after_approval_yield_one_token(site):
    name = f"poller-{uuid.uuid4().hex[:8]}"
    init = requests.post(
        site.url + "/api/auth/device/init",
        json={
            "client_device_identifier": name,
            "name": "TV",
            "client": "argosy-launcher",
            "requested_scopes": ["me.read", "roms.read"],
        },
        timeout=10,
    ).json()
    site.shell(
        "import json; from accounts.models import User; from devices import device_flow as flow; "
        f"u = User.objects.create_user({name!r}, password='a-long-password-1'); "
        f"row = flow.pending({init['user_code']!r}); "
        "print(json.dumps({'ok': flow.decide(row, u, True)}))"
    )
    results = at_once(
        8,
        lambda: requests.post(
            site.url + "/api/auth/device/token", json={"device_code": init["device_code"]}, timeout=30
        ),
    )
    assert sorted(r.status_code for r in results) == [200] + [400] * 7, [r.text for r in results]
    assert {r.json()["error"] for r in results if r.status_code == 400} <= {"slow_down", "expired_token"}
    count = site.shell(
        "import json; from devices.models import ClientToken; "
        f"print(json.dumps(ClientToken.objects.filter(user__username={name!r}).count()))"
    )
    assert count == 1
    token = next(r for r in results if r.status_code == 200).json()["access_token"]
    me = requests.get(site.url + "/api/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert (
        me.json()["current_device_id"] == next(r for r in results if r.status_code == 200).json()["device_id"]
    )


def test_simultaneous_creations_stop_at_twenty_five(site):
    name = f"maker-{uuid.uuid4().hex[:8]}"
    made = site.shell(
        "import json; from accounts.models import User; from devices import client_tokens as tokens; "
        f"u = User.objects.create_user({name!r}, password='a-long-password-1'); "
        "raws = [tokens.create(u, f't{n}', ['me.read', 'me.write'], None)[0] for n in range(20)]; "
        "print(json.dumps({'raw': raws[0]}))"
    )
    results = at_once(
        10,
        lambda: requests.post(
            site.url + "/api/client-tokens",
            json={"name": "racing", "scopes": ["me.read"]},
            headers={"Authorization": f"Bearer {made['raw']}"},
            timeout=30,
        ),
    )
    assert sorted(r.status_code for r in results) == [201] * 5 + [400] * 5, [r.text for r in results]
    count = site.shell(
        "import json; from devices.models import ClientToken; "
        f"print(json.dumps(ClientToken.objects.filter(user__username={name!r}).count()))"
    )
    assert count == 25
