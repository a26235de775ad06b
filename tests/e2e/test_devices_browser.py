"""Apps and devices end to end: the real local provider, the site, a browser and a separate app process."""

import json
import re
import subprocess
import sys

import pytest
import requests

from tests.e2e.conftest import ROOT, Stack
from tests.e2e.test_browser import sign_in_at_provider

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(20000)
    yield page
    context.close()


@pytest.fixture(scope="module")
def password_off():
    started = Stack("authentik", {"DISABLE_USERPASS_LOGIN": "true"})
    yield started
    started.stop()


def app(*args):
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests/e2e/device_client.py"), *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def approve_signed_out(stack, page, artifacts, label):
    """The app starts the device flow; a signed-out browser follows its link, signs in, approves."""
    client = app("device", stack.url)
    try:
        started = json.loads(client.stdout.readline())
        page.goto(stack.url + started["verification_path_complete"])
        assert "/login?next=" in page.url
        page.click("text=Sign in with")
        page.wait_for_url(f"{stack.provider_url}/**")
        sign_in_at_provider(page, "bob")
        page.wait_for_url(f"{stack.url}/pair/device?user_code=*")
        request = page.inner_text('[data-testid="device-request"]')
        assert "E2E Handheld" in request and "grout" in request and started["user_code"] in request
        page.screenshot(path=str(artifacts / f"devices-{label}-approve.png"), full_page=True)
        page.click('button:has-text("Approve")')
        page.wait_for_url(f"{stack.url}/profile")
        assert "E2E Handheld is connected" in page.inner_text('[role="alert"]')
        finished = json.loads(client.stdout.readline())
        client.wait(timeout=30)
        page.reload()
        assert "E2E Handheld" in page.inner_text('[data-testid="devices"]')
    finally:
        if client.poll() is None:
            client.kill()
    return finished


def test_signed_out_person_approves_a_device_and_the_app_gets_its_token(stack, page, artifacts):
    finished = approve_signed_out(stack, page, artifacts, stack.profile)
    assert finished["token"]["scopes"] == ["me.read", "roms.read", "roms.write"]  # bob is an editor
    assert finished["me"]["status"] == 200 and finished["me"]["body"]["username"] == "bob"
    assert finished["me"]["body"]["current_device_id"] == finished["token"]["device_id"]
    assert finished["roms"]["status"] == 200
    assert set(finished["roms"]["body"]) == {
        "items", "total", "limit", "offset", "char_index", "rom_id_index", "filter_values"
    }  # fmt: skip


def test_device_sign_in_with_password_login_off(password_off, page, artifacts):
    finished = approve_signed_out(password_off, page, artifacts, "password-off")
    assert finished["me"]["status"] == 200 and finished["me"]["body"]["username"] == "bob"
    assert finished["roms"]["status"] == 200


def test_token_made_on_the_profile_is_paired_by_code_and_the_old_value_stops(stack, page, artifacts):
    page.goto(f"{stack.url}/profile")
    page.click("text=Sign in with")
    sign_in_at_provider(page, "carol")
    page.wait_for_url(f"{stack.url}/profile")
    page.fill('input[name="name"]', "Phone")
    page.click('button:has-text("Create token")')
    shown = page.inner_text('[data-testid="raw-token"]')
    assert re.fullmatch(r"rmm_[0-9a-f]{64}", shown)
    me = lambda raw: requests.get(
        stack.url + "/api/users/me", headers={"Authorization": f"Bearer {raw}"}, timeout=10
    )
    assert me(shown).json()["username"] == "carol"
    page.click('button:has-text("Pair a device")')
    code = page.inner_text('[data-testid="pairing-code"]')
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    assert page.locator(".qr svg").count() == 1
    page.screenshot(path=str(artifacts / f"devices-{stack.profile}-pairing.png"), full_page=True)
    client = app("exchange", stack.url, code)
    result = json.loads(client.stdout.readline())
    client.wait(timeout=30)
    assert result["status"] == 200 and result["me"]["body"]["username"] == "carol"
    page.wait_for_selector("text=Paired: the app has its token.")
    assert me(shown).status_code == 401
    assert me(result["raw_token"]).status_code == 200
