"""romm-ios-app (Swift, ``JSONDecoder`` with hand-written ``init(from:)``) against the site.

Models: romm/romm/Data/API/Models/ in ilyas-hallak/romm-ios-app (read at Cronocide/romm-ios-app,
its fork, where the index did not hold them): HeartbeatResponse.swift and SystemDict.swift,
FrontendDict.swift, OIDCDict.swift, EmulationDict.swift, FilesystemDict.swift; UserSchema.swift;
PlatformSchema.swift; CustomLimitOffsetPageSimpleRomSchema.swift; SimpleRomSchema.swift;
RomMetadataSchema.swift; RomUserSchema.swift; DetailedRomSchema.swift; DeviceAuthModels.swift.
Requests: romm/romm/Data/API/RommAPIClient.swift (the Authorization header of each mode),
RommAPIClient+Roms.swift, romm/romm/Data/Repositories/HeartbeatRepository.swift (which sign-ins
to offer), AuthRepository.swift (the classic sign-in is ``GET api/users/me`` with Basic).
``decode`` is required and non-null, ``decodeIfPresent`` optional; the "flexible" helpers
default. Older builds (camorobot/romm-ios-app, generated from RomM's OpenAPI) decode every
heartbeat section strictly, ``FRONTEND.UPLOAD_TIMEOUT`` included.
"""

import pytest

from tests.apps.conftest import BIG
from tests.apps.decoders import (
    ANY,
    BOOL,
    DOUBLE,
    INT,
    MOMENT,
    STR,
    DecodeError,
    ListOf,
    MapOf,
    Model,
    decode,
    each,
    optional,
    required,
)
from tests.apps.moves import App, approve_device, basic, bearer, interval_passes, pairing_code, profile_token

pytestmark = pytest.mark.django_db

HEARTBEAT = Model(
    "HeartbeatResponse",
    SYSTEM=required(Model("SystemDict", VERSION=required(STR), SHOW_SETUP_WIZARD=optional(BOOL))),
    METADATA_SOURCES=optional(Model("MetadataSourcesDict")),
    FILESYSTEM=optional(Model("FilesystemDict", FS_PLATFORMS=optional(ListOf(STR)))),
    EMULATION=optional(
        Model("EmulationDict", DISABLE_EMULATOR_JS=optional(BOOL), DISABLE_RUFFLE_RS=optional(BOOL))
    ),
    FRONTEND=optional(
        Model(
            "FrontendDict",
            UPLOAD_TIMEOUT=optional(INT),
            DISABLE_USERPASS_LOGIN=optional(BOOL),
            YOUTUBE_BASE_URL=optional(STR),
        )
    ),
    OIDC=optional(Model("OIDCDict", ENABLED=optional(BOOL), PROVIDER=optional(STR))),
    CLIENT_TOKENS=optional(Model("ClientTokensDict", ENABLED=required(BOOL))),
)
# camorobot/romm-ios-app romm/romm/Data/DataSources/API/OpenAPIs/Models/*Dict.swift (synthesized Codable)
GENERATED_HEARTBEAT = Model(
    "HeartbeatResponse (generated)",
    SYSTEM=required(Model("SystemDict", VERSION=required(STR), SHOW_SETUP_WIZARD=required(BOOL))),
    METADATA_SOURCES=required(
        Model(
            "MetadataSourcesDict",
            **each(required, BOOL, "ANY_SOURCE_ENABLED", "IGDB_API_ENABLED", "MOBY_API_ENABLED", "SS_API_ENABLED",
                   "STEAMGRIDDB_API_ENABLED", "RA_API_ENABLED", "LAUNCHBOX_API_ENABLED", "PLAYMATCH_API_ENABLED",
                   "HASHEOUS_API_ENABLED", "TGDB_API_ENABLED"),
        )
    ),
    FILESYSTEM=required(Model("FilesystemDict", FS_PLATFORMS=required(ListOf(STR)))),
    EMULATION=required(Model("EmulationDict", **each(required, BOOL, "DISABLE_EMULATOR_JS", "DISABLE_RUFFLE_RS"))),
    FRONTEND=required(
        Model(
            "FrontendDict",
            UPLOAD_TIMEOUT=required(INT),
            DISABLE_USERPASS_LOGIN=required(BOOL),
            YOUTUBE_BASE_URL=required(STR),
        )
    ),
    OIDC=required(Model("OIDCDict", ENABLED=required(BOOL), PROVIDER=required(STR))),
)  # fmt: skip
USER = Model(
    "UserSchema",
    id=required(INT),
    username=required(STR),
    email=optional(STR),
    enabled=required(BOOL),
    role=required(STR),
    oauth_scopes=optional(ListOf(STR)),
    avatar_path=required(STR),
    ra_username=optional(STR),
    ra_progression=optional(Model("RAProgression")),
    created_at=required(MOMENT),
    updated_at=required(MOMENT),
)
# Role.swift: viewer, editor, user, admin (an older build knows only viewer, editor, admin).
ROLES = {"viewer", "editor", "admin"}
PLATFORM = Model(
    "PlatformSchema",
    id=required(INT),
    slug=required(STR),
    fs_slug=required(STR),
    rom_count=required(INT),
    name=required(STR),
    **each(optional, STR, "igdb_slug", "moby_slug", "custom_name", "category", "family_name", "family_slug", "url",
           "url_logo", "aspect_ratio"),
    **each(optional, INT, "igdb_id", "sgdb_id", "moby_id", "launchbox_id", "ss_id", "ra_id", "hasheous_id",
           "tgdb_id", "generation"),
    firmware=optional(ListOf(Model("FirmwareSchema"))),
    created_at=required(MOMENT),
    updated_at=required(MOMENT),
    fs_size_bytes=required(INT),
    is_unidentified=required(BOOL),
    is_identified=required(BOOL),
    missing_from_fs=required(BOOL),
    display_name=required(STR),
)  # fmt: skip
METADATUM = Model(
    "RomMetadataSchema",
    rom_id=required(INT),
    first_release_date=optional(INT),
    average_rating=optional(DOUBLE),
)
ROM_USER = Model(
    "RomUserSchema",
    id=required(INT),
    user_id=required(INT),
    rom_id=required(INT),
    created_at=required(MOMENT),
    updated_at=required(MOMENT),
    note_raw_markdown=optional(STR),
    note_is_public=optional(BOOL),
    is_main_sibling=optional(BOOL),
    status=optional(STR),
)
ROM_FIELDS = {
    "id": required(INT),
    **each(optional, INT, "igdb_id", "sgdb_id", "moby_id", "ss_id", "ra_id", "launchbox_id", "hasheous_id", "tgdb_id"),
    "platform_id": required(INT),
    "platform_slug": required(STR),
    "platform_fs_slug": required(STR),
    "platform_custom_name": optional(STR),
    "fs_size_bytes": required(INT),
    **each(optional, STR, "name", "slug", "summary", "youtube_video_id", "path_cover_small", "path_cover_large",
           "url_cover", "path_manual", "url_manual", "revision", "crc_hash", "md5_hash", "sha1_hash"),
    "metadatum": required(METADATUM),
    **each(optional, MapOf(ANY), "igdb_metadata",
           "moby_metadata", "ss_metadata", "launchbox_metadata", "hasheous_metadata"),
    "multi": optional(BOOL),
    "full_path": required(STR),
    "created_at": required(MOMENT),
    "updated_at": required(MOMENT),
    "missing_from_fs": required(BOOL),
    "rom_user": required(ROM_USER),
}  # fmt: skip
# SimpleRomSchema at ilyas-hallak's commit 9d622c96 also decodes sibling_roms with ``decode``.
SIMPLE_ROM = Model(
    "SimpleRomSchema",
    **ROM_FIELDS,
    sibling_roms=required(ListOf(Model("SiblingRomSchema", id=required(INT)))),
)
DETAILED_ROM = Model(
    "DetailedRomSchema",
    **ROM_FIELDS,
    fs_name_no_tags=required(STR),
    fs_extension=required(STR),
    fs_path=required(STR),
)
PAGE = Model(
    "CustomLimitOffsetPageSimpleRomSchema",
    items=required(ListOf(SIMPLE_ROM)),
    total=optional(INT),
    limit=optional(INT),
    offset=optional(INT),
    char_index=required(MapOf(INT)),
)
DEVICE_INIT = Model(
    "DeviceAuthInitResponse",
    **each(required, STR, "device_code", "user_code", "verification_path", "verification_path_complete"),
    **each(required, INT, "expires_in", "interval"),
)
DEVICE_TOKEN = Model(
    "DeviceAuthTokenResponse",
    access_token=required(STR),
    device_id=required(STR),
    scopes=required(ListOf(STR)),
    expires_at=optional(STR),
)
DEVICE_SCOPES = ["me.read", "roms.read", "platforms.read", "assets.read", "assets.write", "devices.read",
                 "devices.write", "roms.user.read", "roms.user.write", "collections.read", "firmware.read"]  # fmt: skip
PAGE_SIZE = 50


def version(text):
    return tuple(int(part) for part in text.split(".")[:3])


def detect_capabilities(app):
    """HeartbeatRepository.detectAuthCapabilities: a heartbeat that does not decode is "unreachable"."""
    body = app.ok(app.get("/api/heartbeat", authenticated=False))
    decode(HEARTBEAT, body)
    decode(GENERATED_HEARTBEAT, body)
    server = version(body["SYSTEM"]["VERSION"])
    assert version("4.1.0") <= server <= version("5.2.0"), "outside the versions the app supports"
    return {
        "device_flow": server >= version("5.0.0"),
        "classic": not body["FRONTEND"]["DISABLE_USERPASS_LOGIN"],
        "client_tokens": body.get("CLIENT_TOKENS", {}).get("ENABLED", server >= version("4.8.0")),
    }


def browse(app):
    """The library screens: platforms, a platform's ROMs 50 at a time, one ROM, search."""
    user = decode(USER, app.ok(app.get("/api/users/me")))
    assert user["role"] in ROLES
    platforms = decode(ListOf(PLATFORM), app.ok(app.get("/api/platforms")))
    snes = next(p for p in platforms if p["slug"] == "snes")
    roms, offset = [], 0
    while True:
        query = {"with_char_index": "true", "platform_ids": snes["id"], "group_by_meta_id": "false"}
        query.update(order_by="name", order_dir="asc", limit=PAGE_SIZE, offset=offset)
        page = decode(PAGE, app.ok(app.get("/api/roms", query)))
        roms += page["items"]
        offset += PAGE_SIZE
        if offset >= page["total"]:
            break
    assert len({rom["id"] for rom in roms}) == snes["rom_count"] == BIG + 1
    assert page["char_index"] == {"c": 0, "g": 1}  # Chrono Trigger, then Game 0000 …
    decode(DETAILED_ROM, app.ok(app.get(f"/api/roms/{roms[0]['id']}")))
    found = decode(
        PAGE, app.ok(app.get("/api/roms", {"search_term": "tetris", "limit": PAGE_SIZE, "offset": 0}))
    )
    assert [rom["name"] for rom in found["items"]] == ["Tetris"]
    return user


def test_device_sign_in_then_library(olivia, library):
    app = App()
    assert detect_capabilities(app)["device_flow"]
    init = app.post(
        "/api/auth/device/init",
        {
            "client_device_identifier": "6F9619FF-8B86-D011-B42D-00C04FC964FF",
            "name": "Olivia's iPhone",
            "client": "romm-ios",
            "platform": "ios",
            "client_version": "2.3",
            "requested_scopes": DEVICE_SCOPES,
        },
        authenticated=False,
    )
    started = decode(DEVICE_INIT, app.ok(init))
    assert started["verification_path_complete"].startswith("/")  # opened as base URL + path
    approve_device(olivia, started["user_code"])
    interval_passes()
    answer = app.post("/api/auth/device/token", {"device_code": started["device_code"]}, authenticated=False)
    token = decode(DEVICE_TOKEN, app.ok(answer))
    app.sign_in_with(bearer(token["access_token"]))
    assert browse(app)["username"] == "olivia"


def test_pairing_code_then_library(olivia, library):
    app = App()
    assert detect_capabilities(app)["client_tokens"]
    code = pairing_code(olivia, ["me.read", "platforms.read", "roms.read"])
    exchanged = app.ok(app.post("/api/client-tokens/exchange", {"code": code}, authenticated=False))
    assert isinstance(exchanged["raw_token"], str)  # read with JSONSerialization: only raw_token is needed
    app.sign_in_with(bearer(exchanged["raw_token"]))
    browse(app)


def test_pasted_token_is_checked_on_the_token_list_then_library(olivia, library):
    app = App()
    app.sign_in_with(bearer(profile_token(olivia, ["me.read", "platforms.read", "roms.read"])["raw_token"]))
    listed = app.ok(app.get("/api/client-tokens"))
    assert isinstance(listed, list) and listed  # a non-empty array
    browse(app)


def test_classic_sign_in_with_an_app_password_then_library(olivia, library, settings):
    """Basic on every request: olivia, who signs in through the provider, types an app password.
    (With DISABLE_USERPASS_LOGIN the app offers no password form; device sign-in remains.)"""
    app = App()
    assert detect_capabilities(app)["classic"]
    raw = profile_token(olivia, ["me.read", "platforms.read", "roms.read"])["raw_token"]
    app.sign_in_with(basic("olivia", raw))
    assert browse(app)["username"] == "olivia"
    settings.DISABLE_USERPASS_LOGIN = True
    assert not detect_capabilities(app)["classic"]


def test_classic_sign_in_with_a_password(frank, library):
    app = App()
    assert detect_capabilities(app)["classic"]
    app.sign_in_with(basic("frank", "correct-horse-battery-staple"))
    assert browse(app)["username"] == "frank"


def test_the_decoders_fail_on_what_broke_the_app(olivia, library):
    app = App()
    body = app.ok(app.get("/api/heartbeat", authenticated=False))
    with pytest.raises(DecodeError, match="VERSION"):
        decode(HEARTBEAT, {**body, "SYSTEM": {"SHOW_SETUP_WIZARD": False}})
    with pytest.raises(DecodeError, match="EMULATION"):
        decode(GENERATED_HEARTBEAT, {k: v for k, v in body.items() if k != "EMULATION"})
    app.sign_in_with(bearer(profile_token(olivia, ["me.read", "roms.read"])["raw_token"]))
    me = app.ok(app.get("/api/users/me"))
    with pytest.raises(DecodeError, match="avatar_path"):
        decode(USER, {k: v for k, v in me.items() if k != "avatar_path"})
    page = app.ok(app.get("/api/roms", {"limit": 1}))
    with pytest.raises(DecodeError, match="char_index"):
        decode(PAGE, {k: v for k, v in page.items() if k != "char_index"})
