"""grout (handheld CFWs, Go) against the site.

Models and requests: rommapp/grout romm/heartbeat.go (``SupportsDeviceAuth``: the major version
of SYSTEM.VERSION is 5 or more), romm/auth.go (pairing exchange, current user),
romm/device_auth.go (``DeviceAuthScopes``, the poll's ``detail`` codes), romm/platforms.go,
romm/roms.go (``GetRomsQuery``, ``DefaultRomPageSize`` 250), romm/endpoints.go. Go's
``encoding/json`` leaves a missing or null field alone but fails the whole answer on a value of
another type (``time.Time`` needs RFC 3339). The app sends only ``Authorization: Bearer``.
"""

import pytest

from tests.apps.conftest import BIG
from tests.apps.decoders import ANY, BOOL, DOUBLE, INT, MOMENT, STR, DecodeError, ListOf, decode, go_struct
from tests.apps.moves import App, approve_device, bearer, interval_passes, pairing_code

pytestmark = pytest.mark.django_db

HEARTBEAT = go_struct("HeartbeatResponse", SYSTEM=go_struct("System", VERSION=STR))
TOKEN_EXCHANGE = go_struct(
    "TokenExchangeResponse", raw_token=STR, name=STR, scopes=ListOf(STR), expires_at=STR
)
CURRENT_USER = go_struct("CurrentUser", username=STR)
DEVICE_INIT = go_struct(
    "DeviceAuthInitResponse",
    device_code=STR,
    user_code=STR,
    verification_path=STR,
    verification_path_complete=STR,
    expires_in=INT,
    interval=INT,
)
DEVICE_TOKEN = go_struct(
    "DeviceAuthTokenResponse", access_token=STR, device_id=STR, scopes=ListOf(STR), expires_at=STR
)
POLL_DETAIL = go_struct("detail", detail=STR)
FIRMWARE = go_struct(
    "Firmware",
    id=INT,
    file_name=STR,
    file_path=STR,
    full_path=STR,
    file_size_bytes=INT,
    is_verified=BOOL,
    missing_from_fs=BOOL,
    crc_hash=STR,
    md5_hash=STR,
    sha1_hash=STR,
    created_at=MOMENT,
    updated_at=MOMENT,
)
PLATFORM = go_struct(
    "Platform",
    id=INT,
    slug=STR,
    fs_slug=STR,
    name=STR,
    custom_name=STR,
    short_name=STR,
    logo_path=STR,
    rom_count=INT,
    firmware_count=INT,
    firmware=ListOf(FIRMWARE),  # tagged "Firmware": encoding/json matches keys ignoring case
    created_at=MOMENT,
    updated_at=MOMENT,
    family_name=STR,
    generation=INT,
    category=STR,
    has_bios=BOOL,
    supported_extensions=ListOf(STR),
)
ROM_METADATA = go_struct(
    "RomMetadata",
    rom_id=INT,
    genres=ListOf(STR),
    franchises=ListOf(ANY),
    collections=ListOf(STR),
    companies=ListOf(STR),
    game_modes=ListOf(STR),
    age_ratings=ListOf(STR),
    first_release_date=INT,
    average_rating=DOUBLE,
)
ROM_FILE = go_struct(
    "RomFile",
    id=INT,
    rom_id=INT,
    file_name=STR,
    file_path=STR,
    file_size_bytes=INT,
    full_path=STR,
    created_at=MOMENT,
    updated_at=MOMENT,
    last_modified=MOMENT,
    crc_hash=STR,
    md5_hash=STR,
    sha1_hash=STR,
    ra_hash=STR,
    category=ANY,
)
SCREENSCRAPER = go_struct("ScreenScrapper")  # its fields are strings; the site sends null
ROM = go_struct(
    "Rom",
    id=INT,
    gamelist_id=ANY,
    platform_id=INT,
    **dict.fromkeys(
        "platform_slug platform_fs_slug platform_custom_name platform_display_name fs_name fs_name_no_tags "
        "fs_name_no_ext fs_extension fs_path name slug summary path_cover_small path_cover_large url_cover "
        "path_manual url_manual revision crc_hash md5_hash sha1_hash ra_hash full_path path_video".split(),
        STR,
    ),
    **dict.fromkeys(
        "has_manual is_identifying is_unidentified is_identified has_simple_single_file has_nested_single_file "
        "has_multiple_files missing_from_fs".split(),
        BOOL,
    ),
    fs_size_bytes=INT,
    ss_id=INT,
    ra_id=INT,
    alternative_names=ListOf(STR),
    metadatum=ROM_METADATA,
    user_screenshots=ListOf(go_struct("Screenshot", id=INT, rom_id=INT, file_name=STR)),
    user_saves=ListOf(go_struct("Save", id=INT)),
    merged_screenshots=ListOf(STR),
    regions=ListOf(STR),
    languages=ListOf(STR),
    tags=ListOf(ANY),
    files=ListOf(ROM_FILE),
    created_at=MOMENT,
    updated_at=MOMENT,
    siblings=ListOf(ANY),
    ss_metadata=SCREENSCRAPER,
)
PAGE = go_struct("PaginatedRoms", items=ListOf(ROM), total=INT, limit=INT, offset=INT)

DEVICE_AUTH_SCOPES = ["me.read", "platforms.read", "roms.read", "collections.read", "firmware.read",
                      "assets.read", "assets.write", "devices.read", "devices.write"]  # fmt: skip
SYNC_SCOPES = {"assets.read", "assets.write", "devices.read", "devices.write"}  # warned about when missing
PAGE_SIZE = 250


def connect(app):
    """ValidateConnection, then SupportsDeviceAuth."""
    heartbeat = decode(HEARTBEAT, app.ok(app.get("/api/heartbeat", authenticated=False)))
    return int(heartbeat["SYSTEM"]["VERSION"].removeprefix("v").split(".")[0]) >= 5


def roms_of(app, platform_id, **extra):
    """GetRoms, page by page: offset omitted when 0; the three flags always sent."""
    roms, offset, total = [], 0, None
    while True:
        query = {"limit": PAGE_SIZE, "platform_ids": platform_id, **extra}
        if offset:
            query["offset"] = offset
        query.update(with_filter_values="false", with_char_index="false", with_files="true")
        page = decode(PAGE, app.ok(app.get("/api/roms", query)))
        total = page["total"] if total is None else total
        roms += page["items"]
        offset += len(page["items"])
        if offset >= total or len(page["items"]) < PAGE_SIZE:
            return roms, total


def populate(app):
    """cache/populate.go: platforms, the config (errors tolerated), every platform's ROMs."""
    platforms = decode(ListOf(PLATFORM), app.ok(app.get("/api/platforms")))
    assert app.get("/api/config").json() == {"detail": "Not Found"}  # non-fatal for grout
    cached = {}
    for platform in platforms:
        assert platform["fs_slug"], "grout maps platform folders by fs_slug"
        roms, total = roms_of(app, platform["id"])
        assert len(roms) == total == platform["rom_count"]
        assert all(rom["platform_fs_slug"] == platform["fs_slug"] and rom["fs_name_no_ext"] for rom in roms)
        assert all(len(rom["files"]) == 1 for rom in roms)
        cached[platform["fs_slug"]] = roms
    return platforms, cached


def check_library(app):
    platforms, cached = populate(app)
    games_only = [p["fs_slug"] for p in platforms if p["rom_count"] > 0]
    assert games_only == ["gb", "snes"]
    assert len(cached["snes"]) == BIG + 1
    # Searching is local, over the cache: grout never sends a search to the server.
    assert [rom["name"] for roms in cached.values() for rom in roms if "tetris" in rom["name"].lower()] == [
        "Tetris"
    ]
    # An incremental refresh asks what changed since the last sync, with RFC 3339 times.
    since = max(p["updated_at"] for p in platforms)
    decode(ListOf(PLATFORM), app.ok(app.get("/api/platforms", {"updated_after": since})))
    changed, _ = roms_of(app, platforms[0]["id"], updated_after="2000-01-01T00:00:00Z")
    assert len(changed) == platforms[0]["rom_count"]
    for identifiers in (
        "/api/platforms/identifiers",
        "/api/roms/identifiers",
        "/api/collections/identifiers",
    ):
        assert app.get(identifiers).status_code == 404  # logged only


def test_device_sign_in_then_library(olivia, library):
    app = App()
    assert connect(app), "grout offers device sign-in only to RomM 5 servers"
    init = app.post(
        "/api/auth/device/init",
        {
            "client_device_identifier": "0123456789abcdef0123456789abcdef",
            "name": "Miyoo Mini Plus",
            "client": "grout",
            "platform": "OnionOS",
            "client_version": "5.1.0",
            "requested_scopes": DEVICE_AUTH_SCOPES,
        },
        authenticated=False,
    )
    assert init.status_code == 201, init.content
    started = decode(DEVICE_INIT, init.json())
    assert started["verification_path_complete"].startswith("/pair/device?")  # grout puts the host in front
    poll = {"device_code": started["device_code"]}
    pending = app.post("/api/auth/device/token", poll, authenticated=False)
    assert decode(POLL_DETAIL, pending.json())["detail"] == "authorization_pending"
    approve_device(olivia, started["user_code"])
    interval_passes()
    token = decode(DEVICE_TOKEN, app.ok(app.post("/api/auth/device/token", poll, authenticated=False)))
    assert set(token["scopes"]) == set(DEVICE_AUTH_SCOPES)  # a viewer may grant all nine
    app.sign_in_with(bearer(token["access_token"]))
    for _ in range(6):  # the warm-up after pairing
        decode(ListOf(PLATFORM), app.ok(app.get("/api/platforms")))
    assert decode(CURRENT_USER, app.ok(app.get("/api/users/me")))["username"] == "olivia"
    check_library(app)


def test_pairing_code_then_library(olivia, library):
    app = App()
    connect(app)
    code = pairing_code(olivia, ["me.read", "platforms.read", "roms.read", *sorted(SYNC_SCOPES)])
    exchanged = decode(
        TOKEN_EXCHANGE, app.ok(app.post("/api/client-tokens/exchange", {"code": code}, authenticated=False))
    )
    assert SYNC_SCOPES <= set(exchanged["scopes"])  # no warning about save sync
    app.sign_in_with(bearer(exchanged["raw_token"]))
    decode(ListOf(PLATFORM), app.ok(app.get("/api/platforms")))  # validates the token
    assert decode(CURRENT_USER, app.ok(app.get("/api/users/me")))["username"] == "olivia"
    check_library(app)


def test_an_integer_device_id_fails_grouts_decoder(olivia):
    """What the site answered before: the token was issued, then lost in the decoder."""
    with pytest.raises(DecodeError, match="device_id"):
        decode(DEVICE_TOKEN, {"access_token": "rmm_x", "device_id": 7, "scopes": [], "expires_at": None})
