"""argosy-launcher (Android, Kotlin + Retrofit + Moshi codegen) against the site.

Models: rommapp/argosy-launcher app/src/main/kotlin/com/nendo/argosy/data/remote/romm/RomMModels.kt
and RomMDeviceModels.kt; requests: RomMApi.kt, RomMApiClient.kt (``buildRomsQueryParams``),
RomMConnectionManager.kt, RomMCapabilities.kt (version gates). Moshi codegen: a non-null property
without a default is required, one with a default may be missing but not null, a nullable one
may be missing or null. The app sends only ``Authorization: Bearer``.
"""

import pytest

from tests.apps.conftest import BIG
from tests.apps.decoders import (
    BOOL,
    INT,
    INT32,
    STR,
    DecodeError,
    ListOf,
    Model,
    decode,
    defaulted,
    each,
    optional,
    required,
)
from tests.apps.moves import App, approve_device, bearer, interval_passes, pairing_code, profile_token

pytestmark = pytest.mark.django_db

HEARTBEAT = Model(
    "RomMHeartbeatResponse",
    SYSTEM=optional(Model("RomMSystem", VERSION=optional(STR), SHOW_SETUP_WIZARD=defaulted(BOOL))),
    METADATA_SOURCES=optional(
        Model(
            "RomMMetadataSources", LIBRETRO_API_ENABLED=optional(BOOL), STEAMGRIDDB_API_ENABLED=optional(BOOL)
        )
    ),
)
RA_PROGRESSION = Model(
    "RomMRAProgression", total=defaulted(INT32), results=defaulted(ListOf(Model("RomMRAGame")))
)
USER = Model(
    "RomMUser",
    id=required(INT),
    username=required(STR),
    enabled=required(BOOL),
    role=required(STR),
    ra_username=optional(STR),
    ra_progression=optional(RA_PROGRESSION),
)
FIRMWARE = Model(
    "RomMFirmware",
    id=required(INT),
    file_name=required(STR),
    file_path=required(STR),
    full_path=required(STR),
    file_size_bytes=required(INT),
    md5_hash=optional(STR),
    sha1_hash=optional(STR),
    missing_from_fs=defaulted(BOOL),
)
PLATFORM = Model(
    "RomMPlatform",
    id=required(INT),
    slug=required(STR),
    name=required(STR),
    fs_slug=optional(STR),
    rom_count=required(INT32),
    custom_name=optional(STR),
    display_name=optional(STR),
    url_logo=optional(STR),
    firmware=optional(ListOf(FIRMWARE)),
)
ROM_FILE = Model(
    "RomMRomFile",
    id=required(INT),
    rom_id=required(INT),
    file_name=required(STR),
    file_path=required(STR),
    file_size_bytes=required(INT),
    full_path=required(STR),
    category=optional(STR),
    track_meta=optional(Model("RomMTrackMeta", has_embedded_cover=defaulted(BOOL))),
)
SIBLING = Model(
    "RomMSibling",
    id=required(INT),
    name=optional(STR),
    fs_name_no_tags=required(STR),
    fs_name_no_ext=required(STR),
    is_main_sibling=optional(BOOL),
)
METADATUM = Model(
    "RomMMetadatum",
    genres=optional(ListOf(STR)),
    companies=optional(ListOf(STR)),
    first_release_date=optional(INT),
    franchises=optional(ListOf(STR)),
    collections=optional(ListOf(STR)),
    game_modes=optional(ListOf(STR)),
    player_count=optional(STR),
    age_ratings=optional(ListOf(STR)),
)
ROM_USER = Model(
    "RomMRomUser",
    rating=defaulted(INT32),
    difficulty=defaulted(INT32),
    completion=defaulted(INT32),
    backlogged=defaulted(BOOL),
    now_playing=defaulted(BOOL),
    hidden=defaulted(BOOL),
)
ROM = Model(
    "RomMRom",
    id=required(INT),
    platform_id=required(INT),
    platform_slug=required(STR),
    platform_display_name=optional(STR),
    name=required(STR),
    slug=optional(STR),
    fs_name=optional(STR),
    fs_size_bytes=defaulted(INT),
    full_path=optional(STR),
    **each(
        optional,
        INT,
        "igdb_id",
        "moby_id",
        "ra_id",
        "sgdb_id",
        "ss_id",
        "launchbox_id",
        "hasheous_id",
        "tgdb_id",
        "hltb_id",
    ),
    **each(
        optional,
        STR,
        "flashpoint_id",
        "gamelist_id",
        "libretro_id",
        "crc_hash",
        "md5_hash",
        "sha1_hash",
        "ra_hash",
        "summary",
        "path_cover_small",
        "path_cover_large",
        "url_cover",
        "revision",
        "youtube_video_id",
        "path_manual",
    ),
    metadatum=optional(METADATUM),
    regions=optional(ListOf(STR)),
    languages=optional(ListOf(STR)),
    merged_screenshots=optional(ListOf(STR)),
    rom_user=optional(ROM_USER),
    tags=optional(ListOf(STR)),
    sibling_roms=optional(ListOf(SIBLING)),
    multi=defaulted(BOOL),
    has_multiple_files=defaulted(BOOL),
    has_simple_single_file=defaulted(BOOL),
    has_nested_single_file=defaulted(BOOL),
    files=optional(ListOf(ROM_FILE)),
    alternative_names=optional(ListOf(STR)),
    has_manual=defaulted(BOOL),
    has_soundtrack=defaulted(BOOL),
    is_identified=defaulted(BOOL),
)
ROM_PAGE = Model("RomMRomPage", items=required(ListOf(ROM)), total=defaulted(INT32), page=optional(INT32))
PAIRING = Model(
    "RomMPairingExchangeResponse",
    raw_token=required(STR),
    id=required(INT),
    name=optional(STR),
    scopes=optional(ListOf(STR)),
    user_id=optional(INT),
)
DEVICE_INIT = Model(
    "RomMDeviceAuthInitResponse",
    device_code=required(STR),
    user_code=required(STR),
    verification_path=required(STR),
    verification_path_complete=required(STR),
    expires_in=required(INT32),
    interval=required(INT32),
)
DEVICE_TOKEN = Model(
    "RomMDeviceAuthTokenResponse",
    access_token=required(STR),
    device_id=required(STR),
    scopes=defaulted(ListOf(STR)),
    expires_at=optional(STR),
)
DETAIL = Model("RomMDetailResponse", detail=optional(STR))

# RomMConnectionManager.kt DEVICE_AUTH_SCOPES
DEVICE_AUTH_SCOPES = [
    "me.read", "me.write", "platforms.read", "platforms.write", "roms.read", "roms.write", "roms.user.read",
    "roms.user.write", "assets.read", "assets.write", "firmware.read", "firmware.write", "collections.read",
    "collections.write", "devices.read", "devices.write",
]  # fmt: skip
SYNC_PAGE_SIZE = 100  # RomMLibrarySyncService.kt


def version_tuple(version):
    return tuple(int(part) for part in version.split(".")[:3])


def connect(app):
    """RomMCapabilities.kt: the unauthenticated heartbeat decides which sign-ins to offer."""
    heartbeat = decode(HEARTBEAT, app.ok(app.get("/api/heartbeat", authenticated=False)))
    version = version_tuple(heartbeat["SYSTEM"]["VERSION"])
    assert version >= (4, 9, 0), "below MIN_SUPPORTED_VERSION"
    return {"device_auth": version >= (5, 0, 0)}


def after_sign_in(app):
    """connectWithToken: heartbeat and users/me with the token; device registration may fail."""
    decode(HEARTBEAT, app.ok(app.get("/api/heartbeat")))
    user = decode(USER, app.ok(app.get("/api/users/me")))
    registration = app.post("/api/devices", {"name": "Pixel", "client_version": "1.0"})
    assert registration.status_code == 404 and registration.json() == {
        "detail": "Not Found"
    }  # logged, ignored
    return user


def library(app):
    """RomMLibrarySyncService.kt: platforms with ROMs, then each one's ROMs, 100 a page, until an empty page."""
    platforms = decode(ListOf(PLATFORM), app.ok(app.get("/api/platforms")))
    permissions = app.get("/api/permissions/me")  # a non-2xx only withholds deletions
    assert permissions.status_code == 404 and permissions["Content-Type"] == "application/json"
    synced = {}
    for platform in (p for p in platforms if p["rom_count"] > 0):
        offset, roms = 0, []
        while True:
            query = rom_query(platform_id=platform["id"], offset=offset, include_files=True)
            page = decode(ROM_PAGE, app.ok(app.get("/api/roms", query)))
            if not page["items"]:
                break
            roms += page["items"]
            offset += SYNC_PAGE_SIZE
        assert len(roms) == platform["rom_count"] == page["total"]
        synced[platform["slug"]] = roms
    return platforms, synced


def rom_query(platform_id=None, search_term=None, offset=0, include_files=False):
    """RomMApiClient.buildRomsQueryParams."""
    query = {"order_by": "id", "order_dir": "asc", "limit": SYNC_PAGE_SIZE, "offset": offset}
    if platform_id is not None:
        query.update(platform_ids=platform_id, platform_id=platform_id)
    if search_term is not None:
        query["search_term"] = search_term
    query.update(with_char_index="false", with_filter_values="false")
    if include_files:
        query["with_files"] = "true"
    return query


def check_library(app):
    platforms, synced = library(app)
    assert {p["slug"]: p["rom_count"] for p in platforms} == {"snes": BIG + 1, "gb": 3, "gg": 0}
    assert set(synced) == {"snes", "gb"}  # gg has no ROMs: not synced
    assert len({rom["id"] for rom in synced["snes"]}) == BIG + 1
    assert all(len(rom["files"]) == 1 for rom in synced["gb"])
    found = decode(ROM_PAGE, app.ok(app.get("/api/roms", rom_query(search_term="tetris"))))
    assert [rom["name"] for rom in found["items"]] == ["Tetris"]


# --- each sign-in the app offers ----------------------------------------------------------------
def test_device_sign_in_then_library(olivia, library):
    app = App()
    assert connect(app)["device_auth"]
    init = app.post(
        "/api/auth/device/init",
        {
            "client_device_identifier": "argosy-0123456789abcdef",
            "name": "Google Pixel 8",
            "client": "argosy-launcher",
            "platform": "Android",
            "client_version": "1.9.0",
            "requested_scopes": DEVICE_AUTH_SCOPES,
        },
        authenticated=False,
    )
    assert init.status_code == 201, init.content
    started = decode(DEVICE_INIT, init.json())
    pending = app.post("/api/auth/device/token", {"device_code": started["device_code"]}, authenticated=False)
    assert pending.status_code == 400 and decode(DETAIL, pending.json())["detail"] == "authorization_pending"
    approve_device(olivia, started["user_code"])
    interval_passes()
    answer = app.post("/api/auth/device/token", {"device_code": started["device_code"]}, authenticated=False)
    token = decode(DEVICE_TOKEN, app.ok(answer))
    # A viewer's device gets what the viewer role allows of what it asked for.
    assert "roms.read" in token["scopes"] and "roms.write" not in token["scopes"]
    app.sign_in_with(bearer(token["access_token"]))
    assert after_sign_in(app)["username"] == "olivia"
    check_library(app)


def test_pairing_code_then_library(olivia, library):
    app = App()
    connect(app)
    code = pairing_code(olivia, ["me.read", "platforms.read", "roms.read", "roms.user.read", "devices.write"])
    exchanged = decode(
        PAIRING, app.ok(app.post("/api/client-tokens/exchange", {"code": code}, authenticated=False))
    )
    app.sign_in_with(bearer(exchanged["raw_token"]))
    after_sign_in(app)
    check_library(app)


def test_pasted_token_then_library(olivia, library):
    app = App()
    connect(app)
    app.sign_in_with(bearer(profile_token(olivia, ["me.read", "platforms.read", "roms.read"])["raw_token"]))
    after_sign_in(app)
    check_library(app)


def test_a_wrong_pairing_code_is_the_404_the_app_explains(olivia):
    refused = App().post("/api/client-tokens/exchange", {"code": "ABCD-EFGH"}, authenticated=False)
    assert refused.status_code == 404 and decode(DETAIL, refused.json())["detail"]


def test_a_spent_device_code_is_expired_token(olivia):
    app = App()
    gone = app.post("/api/auth/device/token", {"device_code": "0" * 64}, authenticated=False)
    assert gone.status_code == 400 and decode(DETAIL, gone.json())["detail"] == "expired_token"


def test_the_decoders_fail_on_what_broke_the_app(olivia, library):
    """The strict decoders are the point: what the site answered before fails them."""
    app = App()
    app.sign_in_with(bearer(profile_token(olivia, ["me.read", "platforms.read", "roms.read"])["raw_token"]))
    platform = app.ok(app.get("/api/platforms"))[0]
    with pytest.raises(DecodeError, match="rom_count"):
        decode(PLATFORM, {k: v for k, v in platform.items() if k != "rom_count"})
    me = app.ok(app.get("/api/users/me"))
    with pytest.raises(DecodeError, match="enabled"):
        decode(USER, {k: v for k, v in me.items() if k != "enabled"})
    rom = app.ok(app.get("/api/roms", {"limit": 1}))["items"][0]
    with pytest.raises(DecodeError, match="platform_slug"):
        decode(ROM, {**rom, "platform_slug": None})
