"""Pivots from one credential to a token that outlives it, tried over real HTTP against the site.

The attacker holds one credential (a device's token, a password, an expiring token) and turns
it into an app token; the owner then cuts the credential off (removes the device, changes the
password, switches password sign-in off, revokes the token) and the attacker tries the token
they obtained. Every setup step is what a person does in a browser or an app does over HTTP.
"""

import re
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest
import requests

from tests.e2e.conftest import ROOT, SERVER, WORKERS, Stack, free_port
from tests.e2e.test_http_flow import sign_in

pytestmark = pytest.mark.e2e

FRANK = ("frank", "a-long-password-1")  # made by the Stack, viewer, with a password
NEW_PASSWORD = "a-new-password-2"  # what an administrator sets for frank below
WRITER = ["me.read", "me.write", "roms.read", "roms.write"]


@pytest.fixture(scope="module")
def site():
    started = Stack("authentik")
    yield started
    started.stop()


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


def csrf(session, stack):
    """The csrftoken a signed-in browser sends back on a JSON write (a page with a form sets it)."""
    session.get(f"{stack.url}/profile", timeout=10)
    return {"X-CSRFToken": session.cookies["csrftoken"]}


def form_token(page):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def me(stack, raw):
    return requests.get(f"{stack.url}/api/users/me", headers=bearer(raw), timeout=10)


def mint(stack, expires_in="never", scopes=WRITER, name="app", **request):
    body = {"name": name, "scopes": scopes, "expires_in": expires_in}
    return requests.post(f"{stack.url}/api/client-tokens", json=body, timeout=10, **request)


def connect_device(stack, session, scopes=WRITER):
    """A device signs in with RFC 8628 and the signed-in person approves it: its raw token."""
    init = requests.post(
        f"{stack.url}/api/auth/device/init",
        json={
            "client_device_identifier": f"tv-{time.monotonic_ns()}",
            "name": "Living-room TV",
            "client": "argosy-launcher",
            "requested_scopes": scopes,
        },
        timeout=10,
    ).json()
    page = session.get(f"{stack.url}/pair/device", params={"user_code": init["user_code"]}, timeout=10)
    approved = session.post(
        f"{stack.url}/pair/device",
        timeout=10,
        data={"csrfmiddlewaretoken": form_token(page), "user_code": init["user_code"], "decision": "approve"},
    )
    assert approved.status_code == 200, approved.text
    polled = requests.post(
        f"{stack.url}/api/auth/device/token", json={"device_code": init["device_code"]}, timeout=10
    )
    assert polled.status_code == 200, polled.text
    return polled.json()["access_token"], int(polled.json()["device_id"])


def platform(stack, session):
    made = session.post(
        f"{stack.url}/api/platforms",
        json={"name": f"SNES {time.monotonic_ns()}"},
        headers=csrf(session, stack),
        timeout=10,
    )
    assert made.status_code == 201, made.text
    return made.json()["id"]


def add_rom(stack, raw, platform_id):
    return requests.post(
        f"{stack.url}/api/roms",
        headers=bearer(raw),
        timeout=10,
        json={"platform_id": platform_id, "name": "Stolen", "file_name": f"s{time.monotonic_ns()}.sfc"},
    )


def test_a_device_token_cannot_take_a_sibling_past_the_devices_removal(site):
    alice, _ = sign_in(site, "alice")  # an administrator, through the provider
    platform_id = platform(site, alice)
    sibling = mint(site, name="laptop script", headers=csrf(alice, site), cookies=alice.cookies).json()
    device_raw, device_id = connect_device(site, alice)
    obtained = []
    regenerated = requests.put(
        f"{site.url}/api/client-tokens/{sibling['id']}/regenerate", headers=bearer(device_raw), timeout=10
    )
    obtained.append(regenerated.json().get("raw_token"))
    paired = requests.post(
        f"{site.url}/api/client-tokens/{sibling['id']}/pair", headers=bearer(device_raw), timeout=10
    )
    if "code" in paired.json():
        exchanged = requests.post(
            f"{site.url}/api/client-tokens/exchange", json={"code": paired.json()["code"]}, timeout=10
        )
        obtained.append(exchanged.json().get("raw_token"))
    assert (regenerated.status_code, paired.status_code) == (403, 403), (regenerated.text, paired.text)
    assert "can manage only itself" in regenerated.json()["detail"]
    assert me(site, sibling["raw_token"]).status_code == 200  # the owner's script is untouched
    page = alice.get(f"{site.url}/profile", timeout=10)
    alice.post(
        f"{site.url}/profile/devices/{device_id}/remove",
        data={"csrfmiddlewaretoken": form_token(page)},
        timeout=10,
    )
    for raw in [device_raw, *filter(None, obtained)]:
        assert add_rom(site, raw, platform_id).status_code == 401
    assert "may manage only itself" in site.site_log()


def test_tokens_minted_with_a_password_stop_when_the_password_changes(site):
    basic = mint(site, scopes=["me.read", "me.write"], name="romm-tender", auth=FRANK)
    assert basic.status_code == 201, basic.text  # RomM's apps mint their token this way
    grant = requests.post(
        f"{site.url}/api/token",
        data={"grant_type": "password", "username": FRANK[0], "password": FRANK[1]},
        timeout=10,
    ).json()["access_token"]
    from_bearer = mint(site, scopes=["me.read"], name="script", headers=bearer(grant))
    assert from_bearer.status_code == 201, from_bearer.text
    stolen = [basic.json()["raw_token"], from_bearer.json()["raw_token"]]
    assert [me(site, raw).status_code for raw in stolen] == [200, 200]
    # An administrator sets a new password for frank in the admin.
    alice, _ = sign_in(site, "alice")
    frank_id = requests.get(f"{site.url}/api/users/me", auth=FRANK, timeout=10).json()["id"]
    form = alice.get(f"{site.url}/admin/accounts/user/{frank_id}/password/", timeout=10)
    changed = alice.post(
        form.url,
        timeout=10,
        data={
            "csrfmiddlewaretoken": form_token(form),
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "usable_password": "true",
        },
    )
    assert changed.status_code == 200 and f"/admin/accounts/user/{frank_id}/change/" in changed.url, (
        changed.text
    )
    assert [me(site, raw).status_code for raw in stolen] == [401, 401]
    assert "API client token refused: password_changed" in site.site_log()


@pytest.fixture
def password_off(site):
    """The same site and database, restarted with DISABLE_USERPASS_LOGIN=true."""
    port = free_port()
    env = {**site.env, "DISABLE_USERPASS_LOGIN": "true", "ROMM_BASE_URL": f"http://127.0.0.1:{port}"}
    if SERVER == "gunicorn":
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "romm_site.wsgi",
            "--workers",
            str(WORKERS),
            "--bind",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "5",
        ]
    else:
        command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url + "/healthz", timeout=2)
            break
        except requests.RequestException:  # not listening yet, or still booting its workers
            if time.monotonic() > deadline or process.poll() is not None:
                process.terminate()
                raise RuntimeError("the site with DISABLE_USERPASS_LOGIN did not start") from None
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=10)


def frank(site):
    """frank's credentials, whether or not the password change above ran first."""
    for credentials in [FRANK, (FRANK[0], NEW_PASSWORD)]:
        if requests.get(f"{site.url}/api/users/me", auth=credentials, timeout=10).status_code == 200:
            return credentials
    raise AssertionError("neither of frank's passwords works")


def test_a_token_minted_with_a_password_stops_when_password_sign_in_is_switched_off(site, password_off):
    raw = mint(site, scopes=["me.read"], name="romm-tender", auth=frank(site)).json()["raw_token"]
    alice, _ = sign_in(site, "alice")
    provider_made = mint(
        site, scopes=["me.read"], name="phone", headers=csrf(alice, site), cookies=alice.cookies
    )
    assert me(site, raw).status_code == 200
    off = lambda token: requests.get(f"{password_off}/api/users/me", headers=bearer(token), timeout=10)
    assert off(raw).status_code == 401
    assert (
        off(provider_made.json()["raw_token"]).status_code == 200
    )  # a provider's session tied it to nothing


def test_an_expiring_token_mints_nothing_that_outlives_it(site):
    alice, _ = sign_in(site, "alice")
    platform_id = platform(site, alice)
    parent = mint(
        site, expires_in="30d", name="30-day script", headers=csrf(alice, site), cookies=alice.cookies
    ).json()
    child = mint(site, expires_in="never", name="child", headers=bearer(parent["raw_token"]))
    assert child.status_code == 201, child.text
    assert child.json()["expires_at"] is not None, "a 30-day token minted a token that never expires"
    expires = datetime.fromisoformat(child.json()["expires_at"])
    assert abs(expires - datetime.fromisoformat(parent["expires_at"])) < timedelta(seconds=1)
    assert add_rom(site, child.json()["raw_token"], platform_id).status_code == 201
    revoked = alice.delete(
        f"{site.url}/api/client-tokens/{parent['id']}", headers=csrf(alice, site), timeout=10
    )
    assert revoked.status_code == 200
    assert add_rom(site, child.json()["raw_token"], platform_id).status_code == 401
