"""The profile's apps-and-devices section and the admin's token list."""

import re

import pytest
from django.test import Client

from accounts.models import SignInEvent
from devices import client_tokens as tokens
from devices.models import ClientToken, Device
from tests.devices.helpers import HUGE, bearer, post_json, signed_in

pytestmark = pytest.mark.django_db


def create_on_profile(client, **fields):
    data = {"name": "Phone", "scopes": ["me.read", "roms.read"], "expires_in": "90d", **fields}
    return client.post("/profile/client-tokens", data)


def raw_on(page):
    return re.search(r'data-testid="raw-token">(rmm_[0-9a-f]{64})<', page.content.decode()).group(1)


def test_profile_offers_only_the_roles_scopes(vera):
    html = signed_in(vera).get("/profile").content.decode()
    assert 'value="roms.read"' in html and 'value="me.write"' in html
    assert 'value="roms.write"' not in html and 'value="users.read"' not in html


def test_profile_creates_a_token_shown_once(frank):
    client = signed_in(frank)
    page = create_on_profile(client)
    assert page.status_code == 200
    raw = raw_on(page)
    assert Client().get("/api/users/me", **bearer(raw)).status_code == 200
    assert ClientToken.objects.get().scopes == ["me.read", "roms.read"]
    again = client.get("/profile").content.decode()
    assert raw not in again and "Phone" in again
    assert SignInEvent.objects.get().reason == "token_created"


def test_profile_refuses_a_scope_beyond_the_role(vera):
    page = create_on_profile(signed_in(vera), scopes=["roms.write"])
    assert page.status_code == 400 and "is not one of the available choices" in page.content.decode()
    assert not ClientToken.objects.exists()


def test_profile_form_needs_a_name_and_a_scope(frank):
    page = create_on_profile(signed_in(frank), name="", scopes=[])
    assert page.status_code == 400 and not ClientToken.objects.exists()


def test_profile_pairing_shows_the_code_qr_and_countdown(frank, settings):
    settings.ROMM_BASE_URL = "https://romm.example.com"
    client = signed_in(frank)
    raw = raw_on(create_on_profile(client))
    token = ClientToken.objects.get()
    html = client.post(f"/profile/client-tokens/{token.pk}/pair").content.decode()
    shown = re.search(r'data-testid="pairing-code">([A-Z0-9]{4}-[A-Z0-9]{4})<', html).group(1)
    assert "<svg" in html and 'data-seconds="60"' in html
    response = post_json(Client(), "/api/client-tokens/exchange", {"code": shown})
    assert response.status_code == 200
    assert Client().get("/api/users/me", **bearer(raw)).status_code == 401
    assert Client().get("/api/users/me", **bearer(response.json()["raw_token"])).status_code == 200


def test_profile_revoke(frank):
    client = signed_in(frank)
    raw = raw_on(create_on_profile(client))
    client.post(f"/profile/client-tokens/{ClientToken.objects.get().pk}/revoke")
    assert Client().get("/api/users/me", **bearer(raw)).status_code == 401


def test_profile_actions_on_someone_elses_rows_change_nothing(frank, vera):
    raw = raw_on(create_on_profile(signed_in(frank)))
    device = Device.objects.create(user=frank, client_device_identifier="x", name="Deck", client="grout")
    other = signed_in(vera)
    token = ClientToken.objects.get()
    other.post(f"/profile/client-tokens/{token.pk}/revoke")
    other.post(f"/profile/devices/{device.pk}/remove")
    assert other.post(f"/profile/client-tokens/{token.pk}/pair").status_code == 302
    assert Client().get("/api/users/me", **bearer(raw)).status_code == 200
    assert Device.objects.filter(pk=device.pk).exists()


def test_profile_forms_need_csrf(frank):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(frank, backend="accounts.oidc.backend.OIDCBackend")
    assert create_on_profile(browser).status_code == 403
    assert not ClientToken.objects.exists()


def test_admin_lists_every_token_with_owner_and_revokes(frank, vera):
    create_on_profile(signed_in(frank))
    create_on_profile(signed_in(vera), name="Vera's script")
    from accounts.models import Role, User

    admin = User.objects.create_user("alice", email="a@x.example", password="x" * 12, role=Role.ADMIN)
    client = signed_in(admin)
    html = client.get("/admin/devices/clienttoken/").content.decode()
    assert "Phone" in html and "Vera&#x27;s script" in html and "me.read roms.read" in html
    ids = [str(t.pk) for t in ClientToken.objects.filter(user=vera)]
    response = client.post("/admin/devices/clienttoken/", {"action": "revoke", "_selected_action": ids})
    assert response.status_code == 302
    assert list(ClientToken.objects.filter(revoked=True).values_list("user__username", flat=True)) == ["vera"]
    assert "token_hash" not in client.get(f"/admin/devices/clienttoken/{ids[0]}/change/").content.decode()


def test_removing_someone_elses_device_changes_nothing(frank, vera):
    device = Device.objects.create(user=frank, client_device_identifier="d", name="D", client="c")
    raw, _ = tokens.create(frank, "d", ["me.read"], None, device)
    signed_in(vera).post(f"/profile/devices/{device.pk}/remove")
    assert Device.objects.filter(pk=device.pk).exists()
    assert Client().get("/api/client-tokens", **bearer(raw)).status_code == 200


def test_the_page_showing_a_new_raw_token_is_not_stored(frank):
    response = signed_in(frank).post(
        "/profile/client-tokens", {"name": "a", "scopes": ["me.read"], "expires_in": "30d"}
    )
    assert response.status_code == 200 and b"rmm_" in response.content
    assert "no-store" in response.get("Cache-Control", "")


@pytest.mark.parametrize(
    "path",
    [
        f"/profile/client-tokens/{HUGE}/pair",
        f"/profile/client-tokens/{HUGE}/revoke",
        f"/profile/devices/{HUGE}/remove",
    ],
)
def test_huge_ids_in_profile_forms_go_back_to_the_profile(frank, path):
    client = signed_in(frank)
    client.raise_request_exception = False
    response = client.post(path)
    assert response.status_code == 302 and response["Location"] == "/profile"
