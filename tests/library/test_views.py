"""The library pages: viewers browse and search, editors and admins change, anonymous people sign in first."""

import pytest

from accounts.models import Role, User
from library.models import Platform, Rom

pytestmark = pytest.mark.django_db

REFUSAL = "This needs the editor role and your account has the viewer role."


@pytest.fixture
def snes():
    return Platform.objects.create(name="Super Nintendo", slug="snes")


@pytest.fixture
def rom(snes):
    return Rom.objects.create(
        name="Chrono Trigger", platform=snes, file_name="chrono.sfc", size_bytes=4194304
    )


def signed_in(client, role):
    user = User.objects.create_user({"viewer": "carol", "editor": "bob", "admin": "alice"}[role], role=role)
    client.force_login(user)
    return user


def pages(rom):
    """(method, url, data) of every library page; the role each needs comes from the list they are in."""
    platform = rom.platform
    browse = [
        ("get", "/library/", None),
        ("get", "/library/?q=chrono", None),
        ("get", f"/library/roms/{rom.pk}/", None),
        ("get", "/library/platforms/", None),
    ]
    change = [
        ("get", "/library/roms/add/", None),
        ("post", "/library/roms/add/", {"name": "Zelda", "platform": platform.pk, "file_name": "zelda.sfc"}),
        ("get", f"/library/roms/{rom.pk}/edit/", None),
        (
            "post",
            f"/library/roms/{rom.pk}/edit/",
            {"name": "Renamed", "platform": platform.pk, "file_name": "chrono.sfc"},
        ),
        ("get", f"/library/roms/{rom.pk}/delete/", None),
        ("post", f"/library/roms/{rom.pk}/delete/", {}),
        ("get", "/library/platforms/add/", None),
        ("post", "/library/platforms/add/", {"name": "Game Boy", "slug": "gb"}),
        ("get", f"/library/platforms/{platform.pk}/edit/", None),
        ("post", f"/library/platforms/{platform.pk}/edit/", {"name": "SNES", "slug": "snes"}),
        ("get", f"/library/platforms/{platform.pk}/delete/", None),
        ("post", f"/library/platforms/{platform.pk}/delete/", {}),
    ]
    return browse, change


def call(client, method, url, data):
    return client.post(url, data) if method == "post" else client.get(url)


def test_anonymous_person_is_sent_to_login_from_every_page(client, rom):
    browse, change = pages(rom)
    for method, url, data in browse + change:
        response = call(client, method, url, data)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login?next=/library/"), url
    assert Rom.objects.get().name == "Chrono Trigger"


def test_viewer_browses_searches_and_reads_details(client, rom):
    signed_in(client, Role.VIEWER)
    browse, _ = pages(rom)
    for method, url, data in browse:
        assert call(client, method, url, data).status_code == 200, url
    html = client.get(f"/library/roms/{rom.pk}/").content.decode()
    assert "Chrono Trigger" in html and "chrono.sfc" in html and "4.0\xa0MB" in html
    assert "/edit/" not in html and "Add ROM" not in client.get("/library/").content.decode()


def test_viewer_is_refused_every_change_with_a_sentence(client, rom):
    signed_in(client, Role.VIEWER)
    _, change = pages(rom)
    for method, url, data in change:
        response = call(client, method, url, data)
        assert response.status_code == 403, url
        assert REFUSAL in response.content.decode(), url
    assert list(Rom.objects.values_list("name", flat=True)) == ["Chrono Trigger"]
    assert list(Platform.objects.values_list("slug", flat=True)) == ["snes"]


@pytest.mark.parametrize("role", [Role.EDITOR, Role.ADMIN])
def test_editor_and_admin_may_open_every_page(client, rom, role):
    signed_in(client, role)
    browse, change = pages(rom)
    for method, url, data in browse + change:
        if method == "get":
            assert call(client, method, url, data).status_code == 200, url


def test_editor_adds_a_rom(client, snes):
    signed_in(client, Role.EDITOR)
    response = client.post(
        "/library/roms/add/",
        {
            "name": "Super Metroid",
            "platform": snes.pk,
            "file_name": "metroid.sfc",
            "size_bytes": "3145728",
            "notes": "US",
        },
    )
    rom = Rom.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/library/roms/{rom.pk}/"
    assert (rom.name, rom.platform, rom.file_name, rom.size_bytes, rom.notes) == (
        "Super Metroid",
        snes,
        "metroid.sfc",
        3145728,
        "US",
    )
    assert "Super Metroid is added to the library." in client.get(response["Location"]).content.decode()


def test_editor_changes_a_rom(client, rom):
    signed_in(client, Role.EDITOR)
    response = client.post(
        f"/library/roms/{rom.pk}/edit/",
        {
            "name": "Chrono Trigger (EU)",
            "platform": rom.platform.pk,
            "file_name": "chrono-eu.sfc",
            "size_bytes": "",
        },
    )
    assert response.status_code == 302
    rom.refresh_from_db()
    assert (rom.name, rom.file_name, rom.size_bytes) == ("Chrono Trigger (EU)", "chrono-eu.sfc", None)


def test_editor_deletes_a_rom_after_confirming(client, rom):
    signed_in(client, Role.EDITOR)
    assert (
        "Delete Chrono Trigger (Super Nintendo)?"
        in client.get(f"/library/roms/{rom.pk}/delete/").content.decode()
    )
    response = client.post(f"/library/roms/{rom.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/library/"
    assert not Rom.objects.exists()


def test_invalid_rom_is_shown_again_with_errors(client, rom):
    signed_in(client, Role.EDITOR)
    response = client.post(
        "/library/roms/add/",
        {"name": "Copy", "platform": rom.platform.pk, "file_name": "chrono.sfc", "size_bytes": "-1"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "This platform already has a ROM with this file name." in html
    assert "Ensure this value is greater than or equal to 0." in html
    assert Rom.objects.count() == 1


def test_editor_manages_platforms(client):
    signed_in(client, Role.EDITOR)
    client.post("/library/platforms/add/", {"name": "Game Boy Advance", "slug": ""})
    gba = Platform.objects.get()
    assert gba.slug == "game-boy-advance"
    client.post(f"/library/platforms/{gba.pk}/edit/", {"name": "Game Boy Advance", "slug": "gba"})
    gba.refresh_from_db()
    assert gba.slug == "gba"
    client.post(f"/library/platforms/{gba.pk}/delete/")
    assert not Platform.objects.exists()


def test_platform_with_roms_is_not_deleted(client, rom):
    signed_in(client, Role.EDITOR)
    response = client.post(f"/library/platforms/{rom.platform.pk}/delete/", follow=True)
    assert "Super Nintendo still has ROMs. Move or delete them first" in response.content.decode()
    assert Platform.objects.exists() and Rom.objects.exists()


def test_duplicate_platform_slug_is_refused(client, snes):
    signed_in(client, Role.EDITOR)
    response = client.post("/library/platforms/add/", {"name": "Super Famicom", "slug": "snes"})
    assert response.status_code == 400
    assert "Platform with this Slug already exists." in response.content.decode()


def test_search_matches_name_or_file_name_and_filters_by_platform(client, rom, snes):
    gb = Platform.objects.create(name="Game Boy", slug="gb")
    Rom.objects.create(name="Tetris", platform=gb, file_name="tetris.gb")
    Rom.objects.create(name="Tetris Attack", platform=snes, file_name="panel.sfc")
    signed_in(client, Role.VIEWER)

    def names(query):
        return [rom.name for rom in client.get("/library/", query).context["page"].object_list]

    assert names({"q": "tetris"}) == ["Tetris", "Tetris Attack"]
    assert names({"q": "PANEL"}) == ["Tetris Attack"]
    assert names({"q": "tetris", "platform": "gb"}) == ["Tetris"]
    assert names({"platform": "snes"}) == ["Chrono Trigger", "Tetris Attack"]
    assert "No ROM matches this search." in client.get("/library/", {"q": "zzz"}).content.decode()


def test_list_shows_25_a_page_and_keeps_the_search_in_page_links(client, snes):
    Rom.objects.bulk_create(
        Rom(name=f"Game {n:02}", platform=snes, file_name=f"game{n:02}.sfc") for n in range(30)
    )
    signed_in(client, Role.VIEWER)
    first = client.get("/library/", {"q": "game"})
    assert len(first.context["page"].object_list) == 25
    html = first.content.decode()
    assert "Page 1 of 2 · 30 ROMs" in html and 'href="?q=game&amp;page=2"' in html
    second = client.get("/library/", {"q": "game", "page": "2"})
    assert [rom.name for rom in second.context["page"].object_list] == [f"Game {n}" for n in range(25, 30)]
    assert client.get("/library/", {"page": "999"}).context["page"].number == 2


def test_home_page_and_navigation_link_to_the_library(client):
    signed_in(client, Role.VIEWER)
    html = client.get("/").content.decode()
    assert 'href="/library/">Browse the library<' in html
    assert '<a href="/library/">Library</a>' in html
