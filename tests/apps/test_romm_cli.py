"""romm-cli (Rust, serde) against the site.

Models: patricksmill/romm-cli src/types.rs (``Platform``, ``Firmware``, ``Rom``, ``RomList``) and
src/endpoints/client_tokens.rs (``ClientTokenCreateSchema``); requests: src/endpoints/roms.rs
(``GetRoms``), src/endpoints/platforms.rs, src/endpoints/system.rs, src/client.rs (the
Authorization header: Basic when API_USERNAME and API_PASSWORD are set, else Bearer API_TOKEN),
src/commands/download.rs (one page of 9999), src/tui/screens/library_browse.rs (50 a page).
serde: a field that is not an ``Option`` is required and non-null; ``u64`` refuses negatives.
"""

import pytest

from tests.apps.conftest import BIG, PASSWORD
from tests.apps.decoders import (
    BOOL,
    INT,
    STR,
    UINT,
    DecodeError,
    ListOf,
    Model,
    decode,
    each,
    optional,
    required,
)
from tests.apps.moves import App, basic, bearer, pairing_code, profile_token

pytestmark = pytest.mark.django_db

CLIENT_TOKEN = Model(
    "ClientTokenCreateSchema",
    id=required(INT),
    name=required(STR),
    scopes=required(ListOf(STR)),
    expires_at=optional(STR),
    last_used_at=optional(STR),
    created_at=required(STR),
    user_id=required(INT),
    raw_token=required(STR),
)
FIRMWARE = Model(
    "Firmware",
    id=required(UINT),
    **each(required, STR, "file_name", "file_name_no_tags", "file_name_no_ext", "file_extension", "file_path",
           "full_path", "crc_hash", "md5_hash", "sha1_hash", "created_at", "updated_at"),
    file_size_bytes=required(UINT),
    is_verified=required(BOOL),
    missing_from_fs=required(BOOL),
)  # fmt: skip
PLATFORM = Model(
    "Platform",
    id=required(UINT),
    slug=required(STR),
    fs_slug=required(STR),
    rom_count=required(UINT),
    name=required(STR),
    **each(optional, STR, "igdb_slug", "moby_slug", "hltb_slug", "custom_name", "category", "family_name",
           "family_slug", "url", "url_logo", "aspect_ratio", "display_name"),
    **each(optional, INT, "igdb_id", "sgdb_id", "moby_id", "launchbox_id", "ss_id", "ra_id", "hasheous_id",
           "tgdb_id", "flashpoint_id", "generation"),
    firmware=required(ListOf(FIRMWARE)),
    created_at=required(STR),
    updated_at=required(STR),
    fs_size_bytes=required(UINT),
    is_unidentified=required(BOOL),
    is_identified=required(BOOL),
    missing_from_fs=required(BOOL),
)  # fmt: skip
ROM = Model(
    "Rom",
    id=required(UINT),
    platform_id=required(UINT),
    **each(optional, STR, "platform_slug", "platform_fs_slug", "platform_custom_name", "platform_display_name",
           "slug", "summary", "path_cover_small", "path_cover_large", "url_cover"),
    **each(required, STR, "fs_name", "fs_name_no_tags", "fs_name_no_ext", "fs_extension", "fs_path", "name"),
    fs_size_bytes=required(UINT),
    is_unidentified=required(BOOL),
    is_identified=required(BOOL),
)  # fmt: skip
ROM_LIST = Model(
    "RomList", items=required(ListOf(ROM)), total=required(UINT), limit=required(UINT), offset=required(UINT)
)
BROWSE_PAGE = 50


def get_roms(app, **query):
    """GetRoms: ``platform_ids`` repeated, RomM's flags, limit and offset."""
    return decode(ROM_LIST, app.ok(app.get("/api/roms", query)))


def walk(app):
    """What the commands and the TUI do: status, platforms, one platform, its ROMs, search, download list."""
    app.ok(app.get("/api/heartbeat"))  # serde_json::Value
    app.ok(app.get("/api/users/me"))  # serde_json::Value
    platforms = decode(ListOf(PLATFORM), app.ok(app.get("/api/platforms")))
    snes = next(p for p in platforms if p["slug"] == "snes")
    assert decode(PLATFORM, app.ok(app.get(f"/api/platforms/{snes['id']}")))["rom_count"] == BIG + 1
    seen, offset = [], 0
    while True:
        page = get_roms(app, platform_ids=snes["id"], limit=BROWSE_PAGE, offset=offset)
        seen += page["items"]
        offset += BROWSE_PAGE
        if offset >= page["total"]:
            break
    assert len({rom["id"] for rom in seen}) == BIG + 1
    found = get_roms(app, search_term="chrono", limit=BROWSE_PAGE, offset=0)
    assert [rom["name"] for rom in found["items"]] == ["Chrono Trigger"]
    decode(ROM, app.ok(app.get(f"/api/roms/{found['items'][0]['id']}")))
    everything = get_roms(app, platform_ids=snes["id"], limit=9999, with_char_index="false")
    assert len(everything["items"]) == everything["total"] == BIG + 1


def test_pairing_code_then_library(olivia, library):
    app = App()
    code = pairing_code(olivia, ["me.read", "platforms.read", "roms.read"])
    token = decode(
        CLIENT_TOKEN, app.ok(app.post("/api/client-tokens/exchange", {"code": code}, authenticated=False))
    )
    assert token["user_id"] == olivia.pk
    app.sign_in_with(bearer(token["raw_token"]))
    walk(app)


def test_api_token_then_library(olivia, library):
    app = App()
    app.sign_in_with(bearer(profile_token(olivia, ["me.read", "platforms.read", "roms.read"])["raw_token"]))
    walk(app)


def test_username_and_password_then_library(frank, library):
    app = App()
    app.sign_in_with(basic("frank", PASSWORD))
    walk(app)


def test_username_and_app_password_then_library(olivia, library, settings):
    """API_USERNAME and API_PASSWORD win over API_TOKEN; olivia puts an app password there."""
    settings.DISABLE_USERPASS_LOGIN = True
    app = App()
    app.sign_in_with(
        basic("olivia", profile_token(olivia, ["me.read", "platforms.read", "roms.read"])["raw_token"])
    )
    walk(app)


def test_the_decoder_fails_on_what_broke_the_app(olivia, library):
    """The exchange answer without user_id failed after the code was spent and the token rotated."""
    app = App()
    token = app.ok(
        app.post(
            "/api/client-tokens/exchange", {"code": pairing_code(olivia, ["me.read"])}, authenticated=False
        )
    )
    with pytest.raises(DecodeError, match="user_id"):
        decode(CLIENT_TOKEN, {k: v for k, v in token.items() if k != "user_id"})
    app.sign_in_with(bearer(profile_token(olivia, ["roms.read"])["raw_token"]))
    page = app.ok(app.get("/api/roms", {"limit": 1}))
    with pytest.raises(DecodeError, match="fs_name"):
        decode(ROM_LIST, {**page, "items": [{k: v for k, v in page["items"][0].items() if k != "fs_name"}]})
