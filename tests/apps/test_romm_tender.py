"""romm-tender (Steam Deck, Python, formerly decky-romm-sync) and the older decky-romm-sync 0.3.0.

romm-tender: danielcopper/romm-tender py_modules/services/connection.py (the three sign-ins),
py_modules/adapters/romm/romm_api.py (paths, the scopes it asks for), py_modules/adapters/romm/http.py
(Authorization header; ``_is_entity_not_found``), py_modules/lib/romm_paging.py and
py_modules/services/library/fetcher.py (500 a page, stop on a short page, pages planned from
``rom_count``), py_modules/domain/shortcut_data.py (``rom["id"]``, ``rom["name"]``), main.py
(``_MIN_REQUIRED_VERSION`` 4.9.0). It reads dicts: a key it indexes must be there, the others it
reads with ``.get``.

decky-romm-sync 0.3.0: danielcopper/decky-romm-sync lib/romm_client.py, lib/sync.py, main.py:
HTTP Basic on every request, 50 ROMs a page.
"""

import pytest

from devices.models import ClientToken
from library.models import Rom
from tests.apps.conftest import BIG, PASSWORD
from tests.apps.decoders import BOOL, INT, STR, ListOf, Model, decode, optional, required
from tests.apps.moves import App, basic, bearer, pairing_code, profile_token

pytestmark = pytest.mark.django_db

# romm_api.py: the token it makes for itself (deliberately no me.write).
TENDER_SCOPES = ["me.read", "platforms.read", "roms.read", "roms.user.read", "collections.read", "firmware.read",
                 "assets.read", "devices.read", "assets.write", "devices.write", "roms.user.write"]  # fmt: skip
MINTED = Model("client token", raw_token=required(STR), id=required(INT))
PLATFORM = Model("platform", id=required(INT), name=required(STR), rom_count=optional(INT))
ROM = Model(
    "rom",
    id=required(INT),
    name=required(STR),
    fs_name=optional(STR),
    fs_name_no_ext=optional(STR),
    fs_size_bytes=optional(INT),
    platform_fs_slug=optional(STR),
    igdb_id=optional(INT),
    sgdb_id=optional(INT),
    ra_id=optional(INT),
    rom_user=optional(Model("rom_user", is_main_sibling=optional(BOOL))),
    regions=optional(ListOf(STR)),
    languages=optional(ListOf(STR)),
    revision=optional(STR),
    tags=optional(ListOf(STR)),
)
PAGE = Model("page", items=required(ListOf(ROM)), total=optional(INT))
LIST_PAGE_SIZE = 500


def version_ok(app):
    """main.py: at least 4.9.0 (or "development", or no version at all)."""
    body = app.ok(app.get("/api/heartbeat", authenticated=False))
    version = body.get("SYSTEM", {}).get("VERSION")
    return version in (None, "development") or tuple(int(p) for p in version.split(".")[:3]) >= (4, 9, 0)


def is_entity_not_found(response):
    """http.py ``_is_entity_not_found``: only RomM's named 404 means "it was deleted"."""
    if response.status_code != 404 or not response["Content-Type"].startswith("application/json"):
        return False
    detail = response.json().get("detail")
    return isinstance(detail, str) and detail.lower() != "not found"


def sync(app):
    """fetcher.py: platforms with ROMs; each one's ROMs 500 a page until a short page."""
    platforms = decode(ListOf(PLATFORM), app.ok(app.get("/api/platforms")))
    shown = [p for p in platforms if p.get("rom_count", 0) > 0]
    synced = {}
    for platform in shown:
        planned = -(-platform["rom_count"] // LIST_PAGE_SIZE)
        roms, offset, pages = [], 0, 0
        while True:
            query = {"platform_ids": platform["id"], "limit": LIST_PAGE_SIZE, "offset": offset}
            query.update(with_char_index="false", with_filter_values="false")
            page = decode(PAGE, app.ok(app.get("/api/roms", query)))
            roms += page["items"]
            pages += 1
            if len(page["items"]) < LIST_PAGE_SIZE:
                break
            offset += LIST_PAGE_SIZE
        assert pages == planned and len(roms) == platform["rom_count"]
        synced[platform["name"]] = roms
    # Incremental: anything changed since the last sync? (one item is enough to know)
    since = "2000-01-01T00:00:00+00:00"
    changed = decode(PAGE, app.ok(app.get("/api/roms", {"platform_ids": shown[0]["id"], "updated_after": since,
                                                         "limit": 1})))  # fmt: skip
    assert changed["total"] == shown[0]["rom_count"]
    return synced


def check_library(app):
    synced = sync(app)
    assert {name: len(roms) for name, roms in synced.items()} == {"Game Boy": 3, "Super Nintendo": BIG + 1}
    # A ROM deleted on the server is a named 404 (romm-tender removes its shortcut) …
    gone = Rom.objects.get(name="Kirby")
    gone.delete()
    assert is_entity_not_found(app.get(f"/api/roms/{gone.pk}"))
    # … an endpoint the server lacks is not (romm-tender keeps its data).
    assert not is_entity_not_found(app.get("/api/sync/negotiate"))


def sign_in_with_credentials(app, username, password):
    """connection.py (a): Basic POST /api/client-tokens, then the new token on every request."""
    assert version_ok(app)
    made = app.client.post(
        "/api/client-tokens",
        {"name": "romm-tender (Steam Deck)", "scopes": TENDER_SCOPES, "expires_in": "never"},
        content_type="application/json",
        **basic(username, password),
    )
    assert made.status_code == 201, made.content
    minted = decode(MINTED, made.json())
    app.sign_in_with(bearer(minted["raw_token"]))
    return minted


def test_username_and_password_then_library(frank, library):
    app = App()
    minted = sign_in_with_credentials(app, "frank", PASSWORD)
    assert app.ok(app.get("/api/users/me"))["id"] == frank.pk
    check_library(app)
    # Signing in again deletes the previous token (a 404 is swallowed).
    again = app.client.delete(f"/api/client-tokens/{minted['id']}", **basic("frank", PASSWORD))
    assert again.status_code == 200 and ClientToken.objects.get(pk=minted["id"]).revoked


def test_username_and_app_password_then_library(olivia, library, settings):
    """olivia has no password: her app password (with me.write) mints romm-tender's token."""
    settings.DISABLE_USERPASS_LOGIN = True
    app_password = profile_token(olivia, ["me.read", "me.write", *TENDER_SCOPES])["raw_token"]
    app = App()
    sign_in_with_credentials(app, "olivia", app_password)
    check_library(app)


def test_pasted_token_then_library(olivia, library):
    app = App()
    app.sign_in_with(bearer(profile_token(olivia, TENDER_SCOPES)["raw_token"]))
    assert isinstance(app.ok(app.get("/api/users/me"))["id"], int)
    check_library(app)


def test_pairing_code_then_library(olivia, library):
    app = App()
    code = pairing_code(olivia, TENDER_SCOPES)
    exchanged = app.post("/api/client-tokens/exchange", {"code": code}, authenticated=False)
    app.sign_in_with(bearer(app.ok(exchanged)["raw_token"]))
    app.ok(app.get("/api/users/me"))
    check_library(app)
    # The code is spent: 404 without "token no longer exists" reads "invalid or expired".
    spent = app.post("/api/client-tokens/exchange", {"code": code}, authenticated=False)
    assert spent.status_code == 404 and "token no longer exists" not in spent.json()["detail"].lower()


def test_decky_romm_sync_with_basic_on_every_request(olivia, library):
    """The older plugin sends the saved username and password with each call; olivia saves an app password."""
    app = App()
    app.sign_in_with(basic("olivia", profile_token(olivia, ["platforms.read", "roms.read"])["raw_token"]))
    app.ok(app.get("/api/heartbeat"))
    platforms = decode(ListOf(PLATFORM), app.ok(app.get("/api/platforms")))
    for platform in platforms:
        roms, offset = [], 0
        while True:
            page = decode(PAGE, app.ok(app.get("/api/roms", {"platform_ids": platform["id"], "limit": 50,
                                                             "offset": offset})))  # fmt: skip
            roms += page["items"]
            if len(page["items"]) < 50:
                break
            offset += 50
        assert len(roms) == platform["rom_count"]
        if roms:
            decode(ROM, app.ok(app.get(f"/api/roms/{roms[0]['id']}")))
