"""Groups decide who sees which platform: lists, counts, searches and 404s, in JSON and on pages.

The cast is ``tests/library/conftest.py``'s household: Game Boy for everyone, Super Nintendo for
kids and family, Nintendo 64 for family; kim is in kids, carol in no group, alice is an admin.
"""

import base64

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from devices import client_tokens as tokens
from devices.models import Device

pytestmark = pytest.mark.django_db

EVERYONE, KIDS, ADMIN = ["Game Boy"], ["Game Boy", "Super Nintendo"], ["Game Boy", "Nintendo 64", "Super Nintendo"]


def platforms(client, **headers):
    response = client.get("/api/platforms", **headers)
    assert response.status_code == 200, response.content
    return {p["name"]: (p["rom_count"], p["fs_size_bytes"]) for p in response.json()}


def roms(client, **query):
    response = client.get("/api/roms", query)
    assert response.status_code == 200, response.content
    body = response.json()
    return sorted(item["name"] for item in body["items"]), body["total"]


# --- JSON ------------------------------------------------------------------------------------
def test_each_person_lists_the_platforms_their_groups_allow_with_their_counts(household):
    h = household
    assert platforms(h.client(h.carol)) == {"Game Boy": (2, 3000)}
    assert platforms(h.client(h.kim)) == {"Game Boy": (2, 3000), "Super Nintendo": (3, 12000)}
    assert platforms(h.client(h.alice)) == {
        "Game Boy": (2, 3000),
        "Nintendo 64": (1, 8000),
        "Super Nintendo": (3, 12000),
    }


def test_platform_list_keeps_its_order_by_name(household):
    names = [p["name"] for p in household.client(household.alice).get("/api/platforms").json()]
    assert names == ADMIN


def test_rom_list_and_its_total_leave_out_hidden_platforms(household):
    h = household
    assert roms(h.client(h.carol)) == (["Kirby", "Tetris"], 2)
    assert roms(h.client(h.kim)) == (["Chrono Trigger", "Kirby", "Secret of Mana", "Super Metroid", "Tetris"], 5)
    assert roms(h.client(h.alice))[1] == 6


def test_letter_index_counts_only_what_the_person_sees(household):
    body = household.client(household.carol).get("/api/roms", {"limit": 1}).json()
    assert body["char_index"] == {"k": 0, "t": 1} and body["total"] == 2


def test_paging_totals_count_only_visible_roms(household):
    h = household
    body = h.client(h.kim).get("/api/roms", {"limit": 2, "offset": 4, "with_char_index": "false"}).json()
    assert (len(body["items"]), body["total"]) == (1, 5)


@pytest.mark.parametrize("query", [{"search": "chrono"}, {"search_term": "mana|mario"}, {"search_term": "super"}])
def test_search_never_finds_a_hidden_rom(household, query):
    h = household
    assert roms(h.client(h.carol), **query) == ([], 0)
    assert roms(h.client(h.alice), **query)[1] >= 1


def test_filtering_on_a_hidden_platform_answers_as_for_a_missing_one(household):
    h = household
    carol = h.client(h.carol)
    assert roms(carol, platform_ids=h.snes.pk) == ([], 0)  # RomM's platform_ids match nothing
    hidden = carol.get("/api/roms", {"platform_id": h.snes.pk})
    missing = carol.get("/api/roms", {"platform_id": 999999})
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json()["detail"] == missing.json()["detail"].replace("999999", str(h.snes.pk))
    assert roms(h.client(h.kim), platform_id=h.snes.pk)[1] == 3


@pytest.mark.parametrize("kind,noun", [("platforms", "Platform"), ("roms", "Rom")])
def test_a_hidden_platform_or_rom_is_a_404_like_a_missing_one(household, kind, noun):
    h = household
    pk = h.n64.pk if kind == "platforms" else h.mario.pk
    carol, kim = h.client(h.carol), h.client(h.kim)
    for client in (carol, kim):
        response = client.get(f"/api/{kind}/{pk}")
        assert response.status_code == 404
        assert response.json() == {"detail": f"{noun} with id '{pk}' not found. List them with GET /api/{kind}."}
    assert h.client(h.alice).get(f"/api/{kind}/{pk}").status_code == 200


def test_a_member_of_any_one_of_the_groups_sees_the_platform(household):
    h = household
    response = h.client(h.kim).get(f"/api/platforms/{h.snes.pk}")
    assert response.status_code == 200 and response.json()["rom_count"] == 3
    assert h.client(h.kim).get(f"/api/roms/{h.chrono.pk}").json()["name"] == "Chrono Trigger"


def test_an_unrestricted_platform_is_seen_by_someone_in_no_group(household):
    h = household
    h.snes.groups.clear()
    assert set(platforms(h.client(h.carol))) == {"Game Boy", "Super Nintendo"}


# --- pages -----------------------------------------------------------------------------------
def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_the_library_page_lists_and_counts_only_what_the_person_sees(household):
    h = household
    html = page(h.client(h.carol), "/library/")
    assert "Tetris" in html and "Kirby" in html
    assert "Chrono Trigger" not in html and "Mario 64" not in html
    assert "Super Nintendo" not in html and "Nintendo 64" not in html  # the platform filter's choices too
    assert "· 2 ROMs" in html
    assert "· 5 ROMs" in page(h.client(h.kim), "/library/")
    assert "· 6 ROMs" in page(h.client(h.alice), "/library/")


def test_the_platform_page_lists_each_visible_platform_with_its_count(household):
    h = household
    html = page(h.client(h.kim), "/library/platforms/")
    assert "Game Boy" in html and "Super Nintendo" in html and "Nintendo 64" not in html
    assert '<td class="num">3</td>' in html
    admin = page(h.client(h.alice), "/library/platforms/")
    assert admin.index("Game Boy") < admin.index("Nintendo 64") < admin.index("Super Nintendo")


def test_searching_the_pages_never_finds_a_hidden_rom(household):
    h = household
    assert "No ROM matches this search" in page(h.client(h.carol), "/library/?q=chrono")
    assert "Chrono Trigger" in page(h.client(h.kim), "/library/?q=chrono")


def test_filtering_the_page_on_a_hidden_platform_shows_none_of_it(household):
    h = household
    html = page(h.client(h.carol), "/library/?platform=snes")
    assert "Chrono Trigger" not in html and "Super Nintendo" not in html
    assert "Chrono Trigger" in page(h.client(h.kim), "/library/?platform=snes")


def test_a_filter_on_a_hidden_platform_shows_no_rom_and_says_why_as_for_a_missing_one(household, caplog):
    h = household
    carol = h.client(h.carol)
    hidden, missing = page(carol, "/library/?platform=snes"), page(carol, "/library/?platform=nes")
    assert "Tetris" in page(carol, "/library/")
    for html in (hidden, missing):
        assert "Tetris" not in html  # not the whole library, as if no filter had been asked for
        assert "There is no such platform here: choose one from the list." in html
    assert hidden.replace("snes", "nes") == missing.replace("snes", "nes")
    assert "Library search by 'carol' refused: platform" in caplog.text


@pytest.mark.parametrize("query, sentence", [
    ("q=" + "t" * 201, "The search is too long: use at most 200 characters."),
    ("q=te%00tris", "The search holds a character it cannot contain: type it again."),
    ("q=" + "t" * 201 + "&platform=snes", "The search is too long: use at most 200 characters. There is no "
                                          "such platform here: choose one from the list."),
])
def test_a_search_the_list_cannot_use_says_why_and_shows_no_rom(household, query, sentence):
    html = page(household.client(household.carol), "/library/?" + query)
    assert "Tetris" not in html and sentence in html


@pytest.mark.parametrize("url", ["/library/roms/{mario}/", "/library/roms/{chrono}/"])
def test_a_hidden_roms_page_is_a_404(household, url):
    h = household
    url = url.format(mario=h.mario.pk, chrono=h.chrono.pk)
    assert h.client(h.carol).get(url).status_code == 404
    assert h.client(h.alice).get(url).status_code == 200


# --- same cost whoever asks ------------------------------------------------------------------
LISTS = ["/api/platforms", "/api/roms", "/api/roms?search_term=r", "/library/", "/library/?q=r",
         "/library/platforms/"]  # fmt: skip


@pytest.mark.parametrize("url", LISTS)
def test_a_list_costs_the_same_queries_for_restricted_people_and_admins(household, url):
    h = household
    counts = {}
    for person in (h.carol, h.kim, h.alice):
        client = h.client(person)
        client.get(url)  # the session's first use
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts[person.username] = len(queries)
    assert len(set(counts.values())) == 1, counts


# --- tokens act as their owner is now --------------------------------------------------------
def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def app_password(username, raw):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{raw}".encode()).decode()}


def credentials(user):
    """Headers for each credential an app holds for ``user``: client token, device token, app password."""
    scopes = ["platforms.read", "roms.read"]
    client_raw, _ = tokens.create(user, "app", scopes, None)
    device = Device.objects.create(user=user, client_device_identifier="deck-1", name="Deck", client="grout")
    device_raw, _ = tokens.create(user, "deck", scopes, None, device=device)
    basic_raw, _ = tokens.create(user, "launcher", scopes, None)
    return {
        "client token": bearer(client_raw),
        "device token": bearer(device_raw),
        "app password": app_password(user.username, basic_raw),
    }


def test_tokens_follow_their_owners_groups_on_their_very_next_request(household):
    h = household
    app = Client()
    ways = credentials(h.kim)
    for name, headers in ways.items():
        assert app.get(f"/api/platforms/{h.snes.pk}", **headers).status_code == 200, name
        assert app.get(f"/api/roms/{h.chrono.pk}", **headers).status_code == 200, name
    h.kim.groups.remove(h.kids)
    for name, headers in ways.items():
        assert app.get(f"/api/platforms/{h.snes.pk}", **headers).status_code == 404, name
        assert app.get(f"/api/roms/{h.chrono.pk}", **headers).status_code == 404, name
        assert set(platforms(app, **headers)) == {"Game Boy"}, name
    h.kim.groups.add(h.family)  # family sees Super Nintendo and Nintendo 64
    for name, headers in ways.items():
        assert set(platforms(app, **headers)) == set(ADMIN), name
