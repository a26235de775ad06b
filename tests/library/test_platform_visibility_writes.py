"""An editor changes only what they can see: a hidden platform or ROM cannot be written, in JSON
or on the pages, and refusing it says no more than for a missing one.

The cast is ``tests/library/conftest.py``'s household: bob is an editor in no group, eve an
editor in kids (Super Nintendo), neither in family (Nintendo 64).
"""

import json

import pytest

from library.models import Platform, Rom

pytestmark = pytest.mark.django_db


def send(client, method, url, body=None):
    return getattr(client, method.lower())(url, data=json.dumps(body or {}), content_type="application/json")


def library_state():
    return (
        sorted(Platform.objects.values_list("name", "slug")),
        sorted(Rom.objects.values_list("name", "platform_id", "file_name", "size_bytes", "notes")),
    )


# --- JSON ------------------------------------------------------------------------------------
def test_a_rom_on_a_hidden_platform_cannot_be_created(household):
    h = household
    bob = h.client(h.bob)
    before = library_state()
    body = {"name": "Zelda", "file_name": "zelda.sfc"}
    hidden = send(bob, "POST", "/api/roms", {**body, "platform_id": h.snes.pk})
    missing = send(bob, "POST", "/api/roms", {**body, "platform_id": 999999})
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json() == missing.json() == {
        "detail": "platform_id: There is no platform with this id. List them with GET /api/platforms.",
        "errors": {"platform_id": ["There is no platform with this id. List them with GET /api/platforms."]},
    }
    assert library_state() == before


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_hidden_rom_or_platform_cannot_be_changed_or_deleted(household, method, caplog):
    h = household
    bob = h.client(h.bob)
    before = library_state()
    rom_body = {"name": "Renamed", "platform_id": h.gb.pk, "file_name": "x.gb"}
    for url, body, noun in [
        (f"/api/roms/{h.chrono.pk}", rom_body, "Rom"),
        (f"/api/platforms/{h.snes.pk}", {"name": "SNES", "slug": "sfc"}, "Platform"),
    ]:
        response = send(bob, method, url, body)
        assert response.status_code == 404, url
        assert response.json()["detail"].startswith(f"{noun} with id '{url.rsplit('/', 1)[1]}' not found")
    assert library_state() == before
    assert f"library API: {method} '/api/roms/{h.chrono.pk}' by 'bob' (session) refused (404)" in caplog.text


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_visible_rom_cannot_be_moved_onto_a_hidden_platform(household, method):
    h = household
    before = library_state()
    body = {"name": "Tetris", "platform_id": h.n64.pk, "file_name": "tetris.gb"}
    for editor in (h.bob, h.eve):
        response = send(h.client(editor), method, f"/api/roms/{h.tetris.pk}", body)
        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["platform_id"]
    assert library_state() == before


def test_a_member_edits_the_restricted_platforms_roms(household):
    h = household
    eve = h.client(h.eve)
    response = send(eve, "PATCH", f"/api/roms/{h.chrono.pk}", {"name": "Chrono Trigger (US)"})
    assert response.status_code == 200
    created = send(eve, "POST", "/api/roms", {"name": "Zelda", "file_name": "zelda.sfc", "platform_id": h.snes.pk})
    assert created.status_code == 201
    assert Rom.objects.get(pk=h.chrono.pk).name == "Chrono Trigger (US)"
    assert Rom.objects.filter(platform=h.snes, name="Zelda").exists()


def test_an_admin_writes_anywhere(household):
    h = household
    alice = h.client(h.alice)
    assert send(alice, "PATCH", f"/api/roms/{h.mario.pk}", {"name": "Super Mario 64"}).status_code == 200
    assert send(alice, "PATCH", f"/api/platforms/{h.n64.pk}", {"name": "N64"}).status_code == 200


# --- pages -----------------------------------------------------------------------------------
def test_the_add_rom_page_offers_only_visible_platforms_and_refuses_a_hidden_one(household):
    h = household
    bob = h.client(h.bob)
    form = bob.get("/library/roms/add/").content.decode()
    assert "Game Boy" in form and "Super Nintendo" not in form and "Nintendo 64" not in form
    before = library_state()
    response = bob.post("/library/roms/add/", {"name": "Zelda", "platform": h.snes.pk, "file_name": "zelda.sfc"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert library_state() == before
    assert "Super Nintendo" in h.client(h.eve).get("/library/roms/add/").content.decode()


def test_editing_a_visible_rom_cannot_move_it_onto_a_hidden_platform(household):
    h = household
    before = library_state()
    response = h.client(h.bob).post(
        f"/library/roms/{h.tetris.pk}/edit/", {"name": "Tetris", "platform": h.snes.pk, "file_name": "tetris.gb"}
    )
    assert response.status_code == 400
    assert library_state() == before


@pytest.mark.parametrize(
    "url,data",
    [
        ("/library/roms/{chrono}/edit/", {"name": "Renamed", "platform": "{gb}", "file_name": "c.gb"}),
        ("/library/roms/{chrono}/delete/", {}),
        ("/library/platforms/{snes}/edit/", {"name": "SNES", "slug": "sfc"}),
        ("/library/platforms/{snes}/delete/", {}),
    ],
)
def test_hidden_rom_and_platform_pages_are_404_and_change_nothing(household, url, data):
    h = household
    ids = {"chrono": h.chrono.pk, "snes": h.snes.pk, "gb": h.gb.pk}
    url = url.format(**ids)
    data = {key: value.format(**ids) for key, value in data.items()}
    bob = h.client(h.bob)
    before = library_state()
    assert bob.get(url).status_code == 404
    assert bob.post(url, data).status_code == 404
    assert library_state() == before
    assert h.client(h.eve).get(url).status_code == 200
