"""GET /api/roms and /api/platforms with RomM 5's query and envelope, and writes with RomM's names."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role, User
from library.models import Platform, Rom

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client):
    client.force_login(User.objects.create_user("carol", role=Role.VIEWER))
    return client


@pytest.fixture
def editor(client):
    client.force_login(User.objects.create_user("bob", role=Role.EDITOR))
    return client


@pytest.fixture
def snes():
    return Platform.objects.create(name="Super Nintendo", slug="snes")


@pytest.fixture
def gb():
    return Platform.objects.create(name="Game Boy", slug="gb")


@pytest.fixture
def shelf(snes, gb):
    """Five ROMs on two platforms, one without a size."""
    for name, platform, file_name, size in [
        ("Chrono Trigger", snes, "Chrono Trigger (USA).sfc", 4194304),
        ("Super Metroid", snes, "Super Metroid (Japan, USA) [!].sfc", 3145728),
        ("Tetris Attack", snes, "Tetris Attack (USA).sfc", None),
        ("Tetris", gb, "Tetris (World) (Rev 1).gb", 65536),
        ("Zelda DX", gb, "zelda.tar.gz", 1048576),
    ]:
        Rom.objects.create(name=name, platform=platform, file_name=file_name, size_bytes=size)


def page(client, query):
    response = client.get("/api/roms", query)
    assert response.status_code == 200, response.content
    return response.json()


def names(client, query):
    return [item["name"] for item in page(client, query)["items"]]


# --- platforms --------------------------------------------------------------------------------
def test_platforms_carry_their_rom_count_and_size(viewer, shelf, snes, gb):
    listed = {p["slug"]: p for p in viewer.get("/api/platforms").json()}
    assert (listed["snes"]["rom_count"], listed["snes"]["fs_size_bytes"]) == (3, 4194304 + 3145728)
    assert (listed["gb"]["rom_count"], listed["gb"]["fs_size_bytes"]) == (2, 65536 + 1048576)
    assert listed["snes"]["fs_slug"] == "snes" and listed["snes"]["display_name"] == "Super Nintendo"
    assert viewer.get(f"/api/platforms/{gb.pk}").json()["rom_count"] == 2
    empty = Platform.objects.create(name="Game Gear", slug="gg")
    assert viewer.get(f"/api/platforms/{empty.pk}").json()["rom_count"] == 0


def test_each_platforms_rom_count_is_what_its_rom_list_totals(viewer, shelf):
    """romm-tender plans its pages from rom_count."""
    for platform in viewer.get("/api/platforms").json():
        assert page(viewer, {"platform_ids": platform["id"]})["total"] == platform["rom_count"]


def test_platforms_updated_after(viewer, snes, gb):
    Platform.objects.filter(pk=snes.pk).update(updated_at=timezone.now() - timedelta(days=2))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert [p["slug"] for p in viewer.get("/api/platforms", {"updated_after": since}).json()] == ["gb"]
    bad = viewer.get("/api/platforms", {"updated_after": "yesterday"})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("updated_after: Expected an ISO 8601")


# --- which ROMs ---------------------------------------------------------------------------------
def test_platform_ids_filters_and_may_repeat(viewer, shelf, snes, gb):
    assert names(viewer, {"platform_ids": gb.pk}) == ["Tetris", "Zelda DX"]
    both = viewer.get(f"/api/roms?platform_ids={gb.pk}&platform_ids={snes.pk}").json()
    assert both["total"] == 5
    # argosy-launcher sends RomM's name and this site's together.
    assert names(viewer, {"platform_ids": gb.pk, "platform_id": gb.pk}) == ["Tetris", "Zelda DX"]


def test_platform_ids_of_no_platform_is_an_empty_page_as_in_romm(viewer, shelf):
    assert (
        page(viewer, {"platform_ids": 999})["items"] == []
        and page(viewer, {"platform_ids": 999})["total"] == 0
    )


def test_search_term_needs_every_word_and_splits_alternatives_on_a_bar(viewer, shelf):
    assert names(viewer, {"search_term": "tetris"}) == ["Tetris", "Tetris Attack"]
    assert names(viewer, {"search_term": "ATTACK tetris"}) == ["Tetris Attack"]
    assert names(viewer, {"search_term": "tetris zelda"}) == []
    assert names(viewer, {"search_term": "metroid | zelda"}) == ["Super Metroid", "Zelda DX"]
    assert names(viewer, {"search_term": "japan"}) == ["Super Metroid"]  # the file name counts
    assert page(viewer, {"search_term": " | "})["total"] == 5


def test_search_and_search_term_together_narrow_each_other(viewer, shelf, gb):
    assert names(viewer, {"search": "tetris", "search_term": "attack"}) == ["Tetris Attack"]
    assert names(viewer, {"search_term": "tetris", "platform_ids": gb.pk}) == ["Tetris"]


def test_updated_after_keeps_roms_changed_since(viewer, shelf):
    Rom.objects.exclude(name="Tetris").update(updated_at=timezone.now() - timedelta(days=3))
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert names(viewer, {"updated_after": since}) == ["Tetris"]
    # An unencoded "+00:00" arrives as " 00:00"; it still means UTC.
    plus_as_space = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S 00:00")
    assert names(viewer, {"updated_after": plus_as_space}) == ["Tetris"]


@pytest.mark.parametrize("flag", ["favorite", "matched", "has_saves", "playable"])
def test_romms_filters_on_what_this_site_does_not_keep_match_nothing_when_true(viewer, shelf, flag):
    assert page(viewer, {flag: "true"})["total"] == 0
    assert page(viewer, {flag: "false"})["total"] == 5


def test_collection_and_metadata_filters_match_nothing(viewer, shelf):
    assert page(viewer, {"collection_id": 1})["total"] == 0
    assert page(viewer, {"virtual_collection_id": "recent"})["total"] == 0
    assert page(viewer, {"genres": "RPG"})["total"] == 0
    assert page(viewer, {"genres": "RPG", "genres_logic": "none"})["total"] == 5


# --- order, pages, letters -------------------------------------------------------------------------
def test_order_by_and_order_dir_as_romm_reads_them(viewer, shelf):
    ids = list(Rom.objects.order_by("pk").values_list("pk", flat=True))
    assert [i["id"] for i in page(viewer, {"order_by": "id", "order_dir": "desc"})["items"]] == ids[::-1]
    assert [i["id"] for i in page(viewer, {"order_by": "id", "order_dir": "DESC"})["items"]] == ids[::-1]
    by_name = ["Chrono Trigger", "Super Metroid", "Tetris", "Tetris Attack", "Zelda DX"]
    assert names(viewer, {"order_by": "rating"}) == by_name  # unknown: by name, no error
    assert names(viewer, {"order_dir": "sideways"}) == by_name  # anything but desc: ascending
    sizes = [
        i["fs_size_bytes"] for i in page(viewer, {"order_by": "fs_size_bytes", "order_dir": "desc"})["items"]
    ]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] == 0


def test_limit_up_to_romms_maximum_and_the_envelope_echoes_it(viewer, snes):
    Rom.objects.bulk_create(
        Rom(name=f"Game {i:04d}", platform=snes, file_name=f"g{i}.sfc") for i in range(620)
    )
    first = page(viewer, {"limit": 500, "offset": 0})
    assert (len(first["items"]), first["total"], first["limit"], first["offset"]) == (500, 620, 500, 0)
    second = page(viewer, {"limit": 500, "offset": 500})
    assert (len(second["items"]), second["offset"]) == (120, 500)
    seen = [i["id"] for i in first["items"] + second["items"]]
    assert len(set(seen)) == 620
    assert len(page(viewer, {"limit": 10000})["items"]) == 620
    assert page(viewer, {})["limit"] == 50


def test_char_index_gives_each_letters_first_offset(viewer, shelf):
    body = page(viewer, {})
    assert body["char_index"] == {"c": 0, "s": 1, "t": 2, "z": 4}
    down = page(viewer, {"order_dir": "desc"})
    assert down["char_index"] == {"z": 0, "t": 1, "s": 3, "c": 4}
    assert [i["name"][0].lower() for i in down["items"]][3] == "s"
    assert page(viewer, {"with_char_index": "false"})["char_index"] == {}
    assert page(viewer, {"with_char_index": "false"})["total"] == 5


def test_envelope_has_romms_keys(viewer, shelf):
    body = page(viewer, {"with_filter_values": "false"})
    assert set(body) == {"items", "total", "limit", "offset", "char_index", "rom_id_index", "filter_values"}
    assert body["rom_id_index"] == [] and set(body["filter_values"]["platforms"]) == set()


# --- one ROM's fields ---------------------------------------------------------------------------
def test_file_name_fields_are_derived_as_romm_derives_them(viewer, shelf):
    items = {i["name"]: i for i in page(viewer, {})["items"]}
    metroid, tetris, zelda = items["Super Metroid"], items["Tetris"], items["Zelda DX"]
    assert (metroid["fs_name_no_tags"], metroid["fs_name_no_ext"], metroid["fs_extension"]) == (
        "Super Metroid",
        "Super Metroid (Japan, USA) [!]",
        "sfc",
    )
    assert tetris["fs_name_no_tags"] == "Tetris" and tetris["fs_extension"] == "gb"
    assert zelda["fs_extension"] == "tar.gz" and zelda["fs_name_no_ext"] == "zelda"
    assert (metroid["platform_slug"], metroid["platform_fs_slug"], metroid["platform_display_name"]) == (
        "snes",
        "snes",
        "Super Nintendo",
    )
    assert items["Tetris Attack"]["fs_size_bytes"] == 0 and items["Tetris Attack"]["size_bytes"] is None
    assert metroid["full_path"] == "roms/snes/Super Metroid (Japan, USA) [!].sfc"


def test_files_only_with_with_files(viewer, shelf):
    assert all(item["files"] == [] for item in page(viewer, {})["items"])
    with_files = page(viewer, {"with_files": "true", "search_term": "chrono"})["items"][0]
    assert [(f["rom_id"], f["file_name"], f["file_size_bytes"]) for f in with_files["files"]] == [
        (with_files["id"], "Chrono Trigger (USA).sfc", 4194304)
    ]


def test_one_rom_is_romms_detailed_schema(viewer, shelf):
    rom = Rom.objects.get(name="Tetris")
    body = viewer.get(f"/api/roms/{rom.pk}").json()
    assert body["user_saves"] == [] and body["user_collections"] == [] and len(body["files"]) == 1
    assert body["rom_user"]["id"] == -1 and body["metadatum"]["rom_id"] == rom.pk


@pytest.mark.parametrize("kind,noun", [("roms", "Rom"), ("platforms", "Platform")])
def test_unknown_id_is_romms_404(viewer, kind, noun):
    response = viewer.get(f"/api/{kind}/4242")
    assert response.status_code == 404
    assert response.json()["detail"].startswith(f"{noun} with id '4242' not found")


# --- bad queries -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query,parameter",
    [
        ("platform_ids=snes", "platform_ids"),
        ("platform_ids=1&platform_ids=x", "platform_ids"),
        ("platform_ids=" + "9" * 30, "platform_ids"),
        ("with_char_index=maybe", "with_char_index"),
        ("with_files=2", "with_files"),
        ("favorite=sure", "favorite"),
        ("updated_after=2026-13-45T00:00:00Z", "updated_after"),
        ("collection_id=0", "collection_id"),
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("offset=-5", "offset"),
        ("search_term=" + "x" * 501, "search_term"),
    ],
)
def test_bad_romm_parameter_is_400_naming_it(viewer, shelf, query, parameter):
    response = viewer.get(f"/api/roms?{query}")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{parameter}:")
    assert list(response.json()["errors"]) == [parameter]


def test_unknown_parameters_are_ignored_as_romm_ignores_them(viewer, shelf):
    assert page(viewer, {"page": "3", "size": "x", "include": "everything"})["total"] == 5


def test_list_with_letters_and_total_stays_at_a_fixed_number_of_queries(
    viewer, snes, gb, django_assert_max_num_queries
):
    Rom.objects.bulk_create(
        Rom(name=f"Game {i}", platform=(snes, gb)[i % 2], file_name=f"g{i}.sfc") for i in range(300)
    )
    with django_assert_max_num_queries(4):  # session + user, letters (and total), page
        assert len(page(viewer, {"limit": 500, "with_files": "true"})["items"]) == 300
    with django_assert_max_num_queries(3):
        assert len(viewer.get("/api/platforms").json()) == 2


# --- writes with RomM's names ---------------------------------------------------------------
def send(client, method, url, body):
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


def test_writes_accept_romms_field_names(editor, snes):
    created = send(editor, "post", "/api/roms", {"platform_id": snes.pk, "name": "Zelda", "fs_name": "zelda.sfc",
                                                 "fs_size_bytes": 1024})  # fmt: skip
    assert created.status_code == 201, created.content
    rom = Rom.objects.get()
    assert (rom.file_name, rom.size_bytes) == ("zelda.sfc", 1024)
    platform = send(editor, "post", "/api/platforms", {"name": "Game Gear", "fs_slug": "gg"})
    assert platform.status_code == 201 and Platform.objects.get(name="Game Gear").slug == "gg"


def test_romm_and_site_names_that_disagree_are_400(editor, snes):
    body = {"platform_id": snes.pk, "name": "Zelda", "fs_name": "a.sfc", "file_name": "b.sfc"}
    response = send(editor, "post", "/api/roms", body)
    assert response.status_code == 400
    assert response.json()["detail"] == "fs_name: Differs from file_name: send one of them."
    assert not Rom.objects.exists()
    same = send(editor, "post", "/api/roms", {**body, "fs_name": "b.sfc"})
    assert same.status_code == 201


def test_a_query_string_with_too_many_parameters_is_a_400_json(viewer, shelf, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 100
    query = "&".join(f"platform_ids={i}" for i in range(101))
    response = viewer.get(f"/api/roms?{query}")
    assert response.status_code == 400
    assert response.json()["detail"] == "The query string has more than 100 parameters. Send fewer."
    assert viewer.get("/api/roms?" + "&".join(f"platform_ids={i}" for i in range(100))).status_code == 200
