"""The library as JSON: /api/platforms and /api/roms, their shapes, paging, validation and scopes."""

import json
import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.api.access import SCOPES
from accounts.models import Role, User
from devices import client_tokens as tokens
from devices.models import ClientToken, Device
from library.models import Platform, Rom

pytestmark = pytest.mark.django_db

NAMES = {Role.VIEWER: "carol", Role.EDITOR: "bob", Role.ADMIN: "alice"}


@pytest.fixture
def snes():
    return Platform.objects.create(name="Super Nintendo", slug="snes")


@pytest.fixture
def gb():
    return Platform.objects.create(name="Game Boy", slug="gb")


@pytest.fixture
def chrono(snes):
    return Rom.objects.create(
        name="Chrono Trigger", platform=snes, file_name="chrono.sfc", size_bytes=4194304, notes="US"
    )


def person(role):
    return User.objects.get_or_create(username=NAMES[role], defaults={"role": role})[0]


def signed_in(client, role):
    client.force_login(person(role))
    return client


@pytest.fixture
def viewer(client):
    return signed_in(client, Role.VIEWER)


@pytest.fixture
def editor(client):
    return signed_in(client, Role.EDITOR)


def send(client, method, url, body=None, raw=None, **headers):
    if method == "GET":
        return client.get(url, **headers)
    data = raw if raw is not None else (json.dumps(body) if body is not None else "")
    return getattr(client, method.lower())(url, data=data, content_type="application/json", **headers)


SITE_PLATFORM_KEYS = ("id", "name", "slug")
SITE_ROM_KEYS = ("id", "platform_id", "name", "file_name", "size_bytes", "notes")


def own(body, keys):
    """The answer's keys this site had before it answered in RomM's shape (they stay, same values)."""
    return {key: body[key] for key in keys}


def library_state():
    return (
        sorted(Platform.objects.values_list("name", "slug")),
        sorted(Rom.objects.values_list("name", "platform_id", "file_name", "size_bytes", "notes")),
    )


def endpoints(rom):
    """(method, url, body, scope) of every library endpoint."""
    platform = rom.platform
    new_rom = {"platform_id": platform.pk, "name": "Zelda", "file_name": "zelda.sfc"}
    return [
        ("GET", "/api/platforms", None, "platforms.read"),
        ("GET", f"/api/platforms/{platform.pk}", None, "platforms.read"),
        ("GET", "/api/roms", None, "roms.read"),
        ("GET", f"/api/roms/{rom.pk}", None, "roms.read"),
        ("POST", "/api/platforms", {"name": "Game Gear"}, "platforms.write"),
        ("PUT", f"/api/platforms/{platform.pk}", {"name": "SNES", "slug": "snes"}, "platforms.write"),
        ("PATCH", f"/api/platforms/{platform.pk}", {"name": "SNES"}, "platforms.write"),
        ("DELETE", f"/api/platforms/{platform.pk}", None, "platforms.write"),
        ("POST", "/api/roms", new_rom, "roms.write"),
        ("PUT", f"/api/roms/{rom.pk}", {**new_rom, "file_name": "chrono.sfc"}, "roms.write"),
        ("PATCH", f"/api/roms/{rom.pk}", {"name": "Renamed"}, "roms.write"),
        ("DELETE", f"/api/roms/{rom.pk}", None, "roms.write"),
    ]


# --- who may do what ---------------------------------------------------------------------------
def test_anonymous_request_is_401_json_everywhere_and_changes_nothing(client, chrono):
    before = library_state()
    for method, url, body, _ in endpoints(chrono):
        response = send(client, method, url, body)
        assert response.status_code == 401, (method, url)
        assert response.json()["detail"], (method, url)
    assert library_state() == before


def test_viewer_reads_everything(viewer, chrono):
    for method, url, _body, _scope in endpoints(chrono):
        if method == "GET":
            assert send(viewer, method, url).status_code == 200, url


def test_viewer_is_refused_every_write_with_the_scope_named(viewer, chrono):
    before = library_state()
    for method, url, body, scope in endpoints(chrono):
        if method != "GET":
            response = send(viewer, method, url, body)
            assert response.status_code == 403, (method, url)
            assert scope in response.json()["detail"], (method, url)
    assert library_state() == before


@pytest.mark.parametrize("role", [Role.EDITOR, Role.ADMIN])
def test_editor_and_admin_may_write(client, chrono, role):
    signed_in(client, role)
    for method, url, body, _ in endpoints(chrono):
        if method == "POST":
            assert send(client, method, url, body).status_code == 201, url


def test_session_write_without_the_csrf_token_is_refused():
    client = signed_in(Client(enforce_csrf_checks=True), Role.EDITOR)
    refused = send(client, "POST", "/api/platforms", {"name": "Game Gear"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert not Platform.objects.exists()
    client.get("/library/platforms/add/")  # a page with a form hands out the csrftoken cookie
    token = client.cookies["csrftoken"].value
    accepted = send(client, "POST", "/api/platforms", {"name": "Game Gear"}, HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201
    assert Platform.objects.get().slug == "game-gear"


def test_unsupported_method_is_405_json(editor, chrono):
    response = send(editor, "POST", f"/api/roms/{chrono.pk}", {"name": "x"})
    assert response.status_code == 405 and "POST" in response.json()["detail"]
    assert "PATCH" in response["Allow"]


# --- platforms -------------------------------------------------------------------------------
def test_platform_list_and_detail_have_the_spec_shape(viewer, snes, gb):
    assert [own(p, SITE_PLATFORM_KEYS) for p in viewer.get("/api/platforms").json()] == [
        {"id": gb.pk, "name": "Game Boy", "slug": "gb"},
        {"id": snes.pk, "name": "Super Nintendo", "slug": "snes"},
    ]
    assert own(viewer.get(f"/api/platforms/{snes.pk}").json(), SITE_PLATFORM_KEYS) == {
        "id": snes.pk,
        "name": "Super Nintendo",
        "slug": "snes",
    }


def test_editor_creates_changes_and_deletes_a_platform(editor):
    created = send(editor, "POST", "/api/platforms", {"name": "Game Boy Advance"})
    assert created.status_code == 201
    gba = Platform.objects.get()
    assert own(created.json(), SITE_PLATFORM_KEYS) == {
        "id": gba.pk,
        "name": "Game Boy Advance",
        "slug": "game-boy-advance",
    }
    patched = send(editor, "PATCH", f"/api/platforms/{gba.pk}", {"slug": "gba"})
    assert (
        patched.status_code == 200
        and patched.json()["slug"] == "gba"
        and patched.json()["name"] == "Game Boy Advance"
    )
    put = send(editor, "PUT", f"/api/platforms/{gba.pk}", {"id": gba.pk, "name": "GBA"})
    # The slug is made from the new name.
    assert own(put.json(), SITE_PLATFORM_KEYS) == {"id": gba.pk, "name": "GBA", "slug": "gba"}
    assert send(editor, "DELETE", f"/api/platforms/{gba.pk}").status_code == 204
    assert not Platform.objects.exists()


@pytest.mark.parametrize(
    "body,field",
    [({"name": "Super Nintendo"}, "name"), ({"name": "Super Famicom", "slug": "snes"}, "slug")],
)
def test_duplicate_platform_is_409_naming_the_field(editor, snes, body, field):
    response = send(editor, "POST", "/api/platforms", body)
    assert response.status_code == 409
    assert field in response.json()["errors"] and response.json()["detail"].startswith(f"{field}:")
    assert Platform.objects.count() == 1


def test_platform_with_roms_is_not_deleted(editor, chrono):
    response = send(editor, "DELETE", f"/api/platforms/{chrono.platform_id}")
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "The platform Super Nintendo still has 1 ROM(s). Delete them or move them to another platform first."
    )
    assert Platform.objects.exists() and Rom.objects.exists()


# --- ROMs: reading ---------------------------------------------------------------------------
def test_rom_detail_has_the_spec_shape(viewer, chrono):
    assert own(viewer.get(f"/api/roms/{chrono.pk}").json(), SITE_ROM_KEYS) == {
        "id": chrono.pk,
        "platform_id": chrono.platform_id,
        "name": "Chrono Trigger",
        "file_name": "chrono.sfc",
        "size_bytes": 4194304,
        "notes": "US",
    }


@pytest.mark.parametrize("kind", ["roms", "platforms"])
@pytest.mark.parametrize("pk", ["999", "0", "abc", "1e3", "99999999999999999999999", "١"])
def test_unknown_id_is_404_json_for_every_method(editor, chrono, kind, pk):
    before = library_state()
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        response = send(editor, method, f"/api/{kind}/{pk}", {"name": "x"})
        assert response.status_code == 404, method
        noun = "Rom" if kind == "roms" else "Platform"
        assert response.json()["detail"].startswith(f"{noun} with id '{pk}' not found"), method
    assert library_state() == before


def names(client, **query):
    response = client.get("/api/roms", query)
    assert response.status_code == 200, response.content
    return [item["name"] for item in response.json()["items"]], response.json()["total"]


def test_search_matches_name_or_file_name_case_insensitively(viewer, chrono, snes, gb):
    Rom.objects.create(name="Tetris", platform=gb, file_name="TETRIS.GB")
    Rom.objects.create(name="Tetris Attack", platform=snes, file_name="panel.sfc")
    assert names(viewer, search="tetris") == (["Tetris", "Tetris Attack"], 2)
    assert names(viewer, search="CHRONO") == (["Chrono Trigger"], 1)
    assert names(viewer, search=".gb") == (["Tetris"], 1)  # file name only
    assert names(viewer, search="PANEL") == (["Tetris Attack"], 1)
    assert names(viewer, search="tetris", platform_id=snes.pk) == (["Tetris Attack"], 1)
    assert names(viewer, platform_id=gb.pk) == (["Tetris"], 1)
    assert names(viewer, search="  ") == (["Chrono Trigger", "Tetris", "Tetris Attack"], 3)


@pytest.mark.parametrize("wildcard", ["%", "_", "\\"])
def test_search_wildcards_are_literal(viewer, chrono, wildcard):
    assert names(viewer, search=wildcard) == ([], 0)


def test_paging_with_limit_and_offset(viewer, snes):
    Rom.objects.bulk_create(
        Rom(name=f"Game {i:03d}", platform=snes, file_name=f"game{i:03d}.sfc") for i in range(120)
    )
    first, total = names(viewer)
    assert total == 120 and len(first) == 50 and first[0] == "Game 000"
    assert names(viewer, limit=10, offset=115) == ([f"Game {i}" for i in range(115, 120)], 120)
    assert names(viewer, limit=200) == ([f"Game {i:03d}" for i in range(120)], 120)
    assert names(viewer, offset=500) == ([], 120)


@pytest.mark.parametrize(
    "query,parameter",
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "10001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "1" * 30}, "offset"),
        ({"platform_id": "snes"}, "platform_id"),
        ({"platform_id": "0"}, "platform_id"),
        ({"search": "x" * 201}, "search"),
    ],
)
def test_bad_query_parameter_is_400_naming_it(viewer, chrono, query, parameter):
    response = viewer.get("/api/roms", query)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{parameter}:") and list(response.json()["errors"]) == [
        parameter
    ]


def test_filter_on_unknown_platform_is_400(viewer, chrono):
    response = viewer.get("/api/roms", {"platform_id": "999"})
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "platform_id: There is no platform with id 999. List them with GET /api/platforms."
    )


def test_empty_platform_is_an_empty_page_not_an_error(viewer, chrono, gb):
    assert names(viewer, platform_id=gb.pk) == ([], 0)


def test_list_queries_do_not_grow_with_the_number_of_roms(viewer, snes, gb, django_assert_max_num_queries):
    Rom.objects.bulk_create(
        Rom(name=f"Game {i}", platform=(snes, gb)[i % 2], file_name=f"g{i}.sfc") for i in range(150)
    )
    # session + user, count, page; nothing per ROM or per platform.
    with django_assert_max_num_queries(4):
        assert len(viewer.get("/api/roms", {"limit": 200}).json()["items"]) == 150
    with django_assert_max_num_queries(4):
        found = viewer.get("/api/roms", {"search": "game", "platform_id": gb.pk, "limit": 200}).json()
        assert len(found["items"]) == 75 == found["total"]
    with django_assert_max_num_queries(3):
        assert len(viewer.get("/api/platforms").json()) == 2


# --- ROMs: writing ---------------------------------------------------------------------------
def test_editor_creates_a_rom(editor, snes, caplog):
    body = {
        "platform_id": snes.pk,
        "name": "Super Metroid",
        "file_name": "metroid.sfc",
        "size_bytes": 3145728,
    }
    with caplog.at_level(logging.INFO, logger="library"):
        response = send(editor, "POST", "/api/roms", body)
    assert response.status_code == 201
    rom = Rom.objects.get()
    assert own(response.json(), SITE_ROM_KEYS) == {"id": rom.pk, **body, "notes": ""}
    assert (rom.name, rom.platform, rom.file_name, rom.size_bytes) == (
        "Super Metroid",
        snes,
        "metroid.sfc",
        3145728,
    )
    assert [r.getMessage() for r in caplog.records] == [
        f"library API: 'bob' (session) created ROM {rom.pk} 'Super Metroid'"
    ]


def test_create_needs_platform_name_and_file_name(editor, snes):
    response = send(editor, "POST", "/api/roms", {"notes": "only notes"})
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "name": ["This field is required."],
        "platform_id": ["This field is required."],
        "file_name": ["This field is required."],
    }
    assert "platform_id: This field is required." in response.json()["detail"]
    assert not Rom.objects.exists()


GOOD = {"name": "Zelda", "file_name": "zelda.sfc"}


@pytest.mark.parametrize(
    "raw,field,sentence",
    [
        ("{not json", None, "The body is not valid JSON."),
        ("", None, "The body must be a JSON object"),
        ("[1, 2]", None, "The body must be a JSON object"),
        ('"Zelda"', None, "The body must be a JSON object"),
        (b"\xff\xfe", None, "The body is not valid JSON."),
        ("[" * 100000 + "]" * 100000, None, "The body is not valid JSON."),
        ({**GOOD, "name": 5}, "name", "name: Expected a string or null."),
        ({**GOOD, "name": ["Zelda"]}, "name", "name: Expected a string or null."),
        ({**GOOD, "platform_id": "PLATFORM"}, "platform_id", "platform_id: Expected a whole number or null."),
        ({**GOOD, "platform_id": True}, "platform_id", "platform_id: Expected a whole number or null."),
        ({**GOOD, "size_bytes": 1.5}, "size_bytes", "size_bytes: Expected a whole number or null."),
        (
            {**GOOD, "size_bytes": -1},
            "size_bytes",
            "size_bytes: Ensure this value is greater than or equal to 0.",
        ),
        (
            {**GOOD, "size_bytes": 2**64},
            "size_bytes",
            "size_bytes: Ensure this value is less than or equal to",
        ),
        ({**GOOD, "notes": {"a": 1}}, "notes", "notes: Expected a string or null."),
        ({**GOOD, "platform_id": 999}, "platform_id", "platform_id: There is no platform with this id."),
        ({**GOOD, "name": "x" * 201}, "name", "name: Ensure this value has at most 200 characters"),
        ({**GOOD, "name": "   "}, "name", "name: This field is required."),
        (
            {**GOOD, "platform": "snes"},
            "platform",
            "Unknown field platform: a ROM has name, platform_id, file_name",
        ),
    ],
)
def test_bad_rom_body_is_400_naming_the_field(editor, snes, raw, field, sentence):
    if isinstance(raw, dict):
        raw = json.dumps({"platform_id": snes.pk, **raw})
    response = send(editor, "POST", "/api/roms", raw=raw)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(sentence)
    if field:
        assert field in response.json()["errors"]
    assert not Rom.objects.exists()


def test_duplicate_file_name_on_a_platform_is_409(editor, chrono, gb):
    body = {"platform_id": chrono.platform_id, "name": "Copy", "file_name": "chrono.sfc"}
    response = send(editor, "POST", "/api/roms", body)
    assert response.status_code == 409
    assert response.json()["detail"] == "file_name: This platform already has a ROM with this file name."
    assert Rom.objects.count() == 1
    # The same file name on another platform is a different ROM.
    assert send(editor, "POST", "/api/roms", {**body, "platform_id": gb.pk}).status_code == 201


def test_patch_changes_only_the_fields_sent(editor, chrono, gb):
    response = send(editor, "PATCH", f"/api/roms/{chrono.pk}", {"platform_id": gb.pk, "notes": None})
    assert response.status_code == 200
    chrono.refresh_from_db()
    assert (chrono.name, chrono.platform, chrono.file_name, chrono.size_bytes, chrono.notes) == (
        "Chrono Trigger",
        gb,
        "chrono.sfc",
        4194304,
        "",
    )


def test_put_replaces_the_rom(editor, chrono):
    body = {"platform_id": chrono.platform_id, "name": "Chrono Trigger (EU)", "file_name": "chrono-eu.sfc"}
    response = send(editor, "PUT", f"/api/roms/{chrono.pk}", body)
    assert own(response.json(), SITE_ROM_KEYS) == {"id": chrono.pk, **body, "size_bytes": None, "notes": ""}
    missing = send(editor, "PUT", f"/api/roms/{chrono.pk}", {"name": "No file"})
    assert missing.status_code == 400 and set(missing.json()["errors"]) == {"platform_id", "file_name"}
    chrono.refresh_from_db()
    assert chrono.name == "Chrono Trigger (EU)"


def test_patch_onto_a_taken_file_name_is_409_and_changes_nothing(editor, chrono, snes):
    other = Rom.objects.create(name="Other", platform=snes, file_name="other.sfc")
    response = send(editor, "PATCH", f"/api/roms/{other.pk}", {"file_name": "chrono.sfc", "name": "Stolen"})
    assert response.status_code == 409
    other.refresh_from_db()
    assert (other.name, other.file_name) == ("Other", "other.sfc")


def test_editor_deletes_a_rom(editor, chrono, caplog):
    with caplog.at_level(logging.INFO, logger="library"):
        assert send(editor, "DELETE", f"/api/roms/{chrono.pk}").status_code == 204
    assert [r.getMessage() for r in caplog.records if r.name.startswith("library")] == [
        f"library API: 'bob' (session) deleted ROM {chrono.pk} 'Chrono Trigger'"
    ]
    assert not Rom.objects.exists()
    assert send(editor, "DELETE", f"/api/roms/{chrono.pk}").status_code == 404


def test_a_name_with_a_newline_cannot_forge_a_log_line(editor, snes, caplog):
    forged = "Zelda\n2026-01-01 00:00:00 INFO accounts admin 'alice' granted"
    with caplog.at_level(logging.INFO, logger="library"):
        send(editor, "POST", "/api/roms", {"platform_id": snes.pk, "name": forged, "file_name": "z.sfc"})
        send(
            editor,
            "POST",
            "/api/roms",
            {"platform_id": snes.pk, "name": "y", "file_name": "z.sfc", forged: 1},
        )
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("library")]
    assert len(lines) == 2 and all("\n" not in line for line in lines)
    assert "Zelda\\n2026" in lines[0]


def test_refusal_logs_one_line_for_the_operator(editor, snes, caplog):
    with caplog.at_level(logging.INFO, logger="library"):
        send(editor, "POST", "/api/roms", {"platform_id": snes.pk, "name": "Zelda", "file_name": 3})
    assert [r.getMessage() for r in caplog.records if r.name.startswith("library")] == [
        "library API: POST '/api/roms' by 'bob' (session) refused (400): ['file_name']"
    ]


# --- with app tokens -------------------------------------------------------------------------
def token_for(user, scopes, device=None, **fields):
    raw, token = tokens.create(user, "test app", scopes, fields.pop("expires_at", None), device=device)
    return raw, token


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def app():
    """An app: no cookies, and Django's CSRF check enforced as for any real client."""
    return Client(enforce_csrf_checks=True)


def test_token_with_the_scope_reaches_every_endpoint_without_csrf(app, chrono):
    bob = person(Role.EDITOR)
    for method, url, body, scope in endpoints(chrono):  # ROM DELETE comes last
        raw, _ = token_for(bob, [scope])
        response = send(app, method, url, body, **bearer(raw))
        if method == "DELETE" and url.startswith("/api/platforms/"):
            assert response.status_code == 409, response.content  # it still has Chrono Trigger
        else:
            assert response.status_code in (200, 201, 204), (method, url, response.content)
    assert list(Rom.objects.values_list("file_name", flat=True)) == ["zelda.sfc"]  # POSTed; chrono deleted


def test_token_without_the_scope_is_403_naming_it_and_changes_nothing(app, chrono):
    bob = person(Role.EDITOR)
    before = library_state()
    for method, url, body, scope in endpoints(chrono):
        raw, _ = token_for(bob, [s for s in SCOPES if s != scope])
        response = send(app, method, url, body, **bearer(raw))
        assert response.status_code == 403, (method, url)
        assert response.json()["detail"] == (
            f"This needs the {scope} scope, which this token was not granted. Create a token with "
            f"{scope} on your profile page (/profile)."
        )
    assert library_state() == before


def test_demoted_owner_s_token_loses_write_on_its_next_request(app, snes):
    bob = person(Role.EDITOR)
    raw, _ = token_for(bob, ["roms.read", "roms.write"])
    body = {"platform_id": snes.pk, "name": "Zelda", "file_name": "zelda.sfc"}
    assert send(app, "POST", "/api/roms", body, **bearer(raw)).status_code == 201
    bob.role = Role.VIEWER
    bob.save()
    refused = send(app, "POST", "/api/roms", {**body, "file_name": "zelda2.sfc"}, **bearer(raw))
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith(
        "This needs the roms.write scope, which the editor role grants;"
    )
    assert list(Rom.objects.values_list("file_name", flat=True)) == ["zelda.sfc"]
    assert send(app, "GET", "/api/roms", **bearer(raw)).json()["total"] == 1  # reading still works


def test_viewer_token_created_with_write_cannot_write(app, chrono):
    """Even a token row holding roms.write acts only with what its owner's role grants."""
    raw, _ = token_for(person(Role.VIEWER), ["roms.read", "roms.write"])
    response = send(app, "DELETE", f"/api/roms/{chrono.pk}", **bearer(raw))
    assert response.status_code == 403 and "roms.write" in response.json()["detail"]
    assert Rom.objects.exists()


@pytest.mark.parametrize("spoil", ["revoked", "expired", "deactivated"])
def test_dead_token_is_401_and_changes_nothing(app, chrono, spoil):
    bob = person(Role.EDITOR)
    raw, token = token_for(bob, list(SCOPES))
    if spoil == "revoked":
        ClientToken.objects.filter(pk=token.pk).update(revoked=True)
    elif spoil == "expired":
        ClientToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        bob.is_active = False
        bob.save()
    before = library_state()
    for method, url, body, _ in endpoints(chrono):
        response = send(app, method, url, body, **bearer(raw))
        assert response.status_code == 401, (method, url)
    assert library_state() == before


def test_device_token_lists_roms(app, chrono):
    bob = person(Role.EDITOR)
    device = Device.objects.create(user=bob, client_device_identifier="deck-1", name="Deck", client="grout")
    raw, _ = token_for(bob, ["roms.read"], device=device)
    response = send(app, "GET", "/api/roms?search=chrono", **bearer(raw))
    assert response.status_code == 200 and response.json()["total"] == 1


def test_legacy_bearer_reads_and_writes_with_its_role(app, snes):
    User.objects.create_user("frank", password="pw-for-frank", role=Role.EDITOR)
    grant = app.post(
        "/api/token", {"grant_type": "password", "username": "frank", "password": "pw-for-frank"}
    )
    raw = grant.json()["access_token"]
    body = {"platform_id": snes.pk, "name": "Zelda", "file_name": "zelda.sfc"}
    assert send(app, "POST", "/api/roms", body, **bearer(raw)).status_code == 201
    assert send(app, "GET", "/api/roms", **bearer(raw)).json()["total"] == 1


def test_logs_name_the_token_by_id_never_its_value(app, snes, caplog):
    raw, token = token_for(person(Role.EDITOR), ["roms.write"])
    with caplog.at_level(logging.INFO):
        send(
            app,
            "POST",
            "/api/roms",
            {"platform_id": snes.pk, "name": "Zelda", "file_name": "z.sfc"},
            **bearer(raw),
        )
        send(
            app,
            "POST",
            "/api/roms",
            {"platform_id": snes.pk, "name": "Zelda", "file_name": "z.sfc"},
            **bearer(raw),
        )
    lines = [r.getMessage() for r in caplog.records]
    rom = Rom.objects.get()
    assert f"library API: 'bob' (client_token {token.pk}) created ROM {rom.pk} 'Zelda'" in lines
    assert (
        f"library API: POST '/api/roms' by 'bob' (client_token {token.pk}) refused (409): ['file_name']"
        in lines
    )
    assert not [line for line in lines if raw in line or raw[4:20] in line]


def test_token_list_queries_do_not_grow_with_the_number_of_roms(app, snes, django_assert_max_num_queries):
    Rom.objects.bulk_create(Rom(name=f"Game {i}", platform=snes, file_name=f"g{i}.sfc") for i in range(150))
    raw, _ = token_for(person(Role.VIEWER), ["roms.read"])
    send(app, "GET", "/api/roms", **bearer(raw))  # the first use writes last_used_at
    # token with owner and device, count, page.
    with django_assert_max_num_queries(3):
        assert len(send(app, "GET", "/api/roms?limit=200", **bearer(raw)).json()["items"]) == 150


def test_oversized_body_is_a_400_json(app, snes, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    raw, _ = token_for(person(Role.EDITOR), ["roms.write"])
    body = {"platform_id": snes.pk, "name": "Zelda", "file_name": "zelda.sfc", "notes": "x" * 2000}
    response = send(app, "POST", "/api/roms", body, **bearer(raw))
    assert response.status_code == 400
    assert response.json()["detail"] == "The body is too large. Send one JSON object of a few fields."
    assert not Rom.objects.exists()


# --- malformed input is a 400 sentence, never a 500 -----------------------------------------------
DEEP = "[" * 100000 + "]" * 100000


def quiet():
    """A client that answers a server error with the 500 response instead of raising it."""
    return Client(raise_request_exception=False, REMOTE_ADDR="10.9.9.9")


@pytest.fixture
def frank(db):
    """An editor."""
    return User.objects.create_user("frank", email="frank@local.example", role=Role.EDITOR)


def test_deeply_nested_json_on_the_library_is_a_400_sentence(frank):
    raw, _ = token_for(frank, ["roms.write"])
    response = quiet().post("/api/roms", DEEP, content_type="application/json", **bearer(raw))
    assert response.status_code == 400 and response.json()["detail"]


@pytest.fixture
def editor_token(frank):
    platform = Platform.objects.create(name="SNES", slug="snes")
    raw = tokens.create(frank, "lib", ["platforms.read", "platforms.write", "roms.read", "roms.write"], None)[
        0
    ]
    return raw, platform.pk


@pytest.mark.parametrize(
    "body",
    [
        {"name": "a", "file_name": "a.sfc", "platform_id": 10**30},
        {"name": "a", "file_name": "a.sfc", "platform_id": 1, "size_bytes": 10**30},
        {"name": "a", "file_name": "a.sfc", "platform_id": 1, "size_bytes": -1},
        {"name": "a", "file_name": "a.sfc", "platform_id": True},
        {"name": "a", "file_name": "a.sfc", "platform_id": 1.5},
        {"name": "a" * 10000, "file_name": "a.sfc", "platform_id": 1},
        {"name": "a\x00b", "file_name": "a.sfc", "platform_id": 1, "notes": ["x"]},
    ],
)
def test_bad_rom_bodies_are_400_sentences(editor_token, body):
    raw, platform_id = editor_token
    body = (
        {**body, "platform_id": platform_id}
        if type(body["platform_id"]) is int and body["platform_id"] == 1
        else body
    )
    response = quiet().post("/api/roms", json.dumps(body), content_type="application/json", **bearer(raw))
    assert response.status_code == 400 and response.json()["detail"]
    assert Rom.objects.count() == 0


@pytest.mark.parametrize(
    "path",
    [
        "/api/roms?limit=1e9",
        "/api/roms?offset=99999999999999999999999999",
        "/api/roms?platform_id=-1",
        "/api/roms?limit=%00",
        "/api/roms/99999999999999999999999",
        "/api/roms/%D9%A3",  # an Arabic-Indic digit: isdigit() but not ASCII
        "/api/platforms/0",
    ],
)
def test_bad_library_queries_are_sentences_not_500(editor_token, path):
    response = quiet().get(path, **bearer(editor_token[0]))
    assert response.status_code in (400, 404) and response.json()["detail"]


def test_lone_surrogate_in_a_rom_name_is_a_400(editor_token):
    raw, platform_id = editor_token
    good = quiet().post(
        "/api/roms",
        json.dumps({"name": "ok", "file_name": "a.sfc", "platform_id": platform_id}),
        content_type="application/json",
        **bearer(raw),
    )
    assert good.status_code == 201
    body = json.dumps({"name": "\ud800", "file_name": "b.sfc", "platform_id": platform_id})
    response = quiet().post("/api/roms", body, content_type="application/json", **bearer(raw))
    assert response.status_code == 400 and response.json()["detail"]
