"""What the library shows depends on who asks, so every answer made for someone is marked
``Cache-Control: private``: a shared cache in front of the site (a CDN, a reverse proxy's cache)
never hands kim's list, with the kids' platform in it, to carol."""

import pytest
from django.test import Client

from devices import client_tokens as tokens

pytestmark = pytest.mark.django_db


def cache_control(response):
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


def test_the_library_as_json_for_a_token_is_private(household):
    raw, _ = tokens.create(household.kim, "app", ["platforms.read", "roms.read"], None)
    response = Client().get("/api/platforms", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200 and "Super Nintendo" in response.content.decode()
    assert "private" in cache_control(response)


def test_the_library_pages_and_json_for_a_session_are_private(household):
    browser = household.client(household.kim)
    for path in ("/api/platforms", "/api/roms", "/library/"):
        response = browser.get(path)
        assert response.status_code == 200, path
        assert "private" in cache_control(response), path


def test_an_answer_that_says_no_store_keeps_it(household):
    response = household.client(household.kim).get("/profile/sessions")
    assert response.status_code == 200
    assert "no-store" in cache_control(response)


def test_an_answer_for_nobody_in_particular_is_not_marked(household):
    assert "private" not in cache_control(Client().get("/api/heartbeat"))
    # The same request made by someone is answered for them: marked, whatever it holds.
    assert "private" in cache_control(household.client(household.kim).get("/api/heartbeat"))
