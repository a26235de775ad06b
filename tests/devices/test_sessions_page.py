"""Apps and devices on /profile/sessions: the person's tokens and devices, each with its revoke button,
which leads back to the page."""

import pytest
from django.test import Client

from devices import client_tokens as tokens
from devices.models import Device
from tests.devices.helpers import bearer, make_token, signed_in

pytestmark = pytest.mark.django_db


def test_the_page_lists_the_persons_tokens_and_devices_with_their_revoke_buttons(frank, vera):
    make_token(frank, ["me.read"], name="Phone")
    deck = Device.objects.create(user=frank, client_device_identifier="deck", name="Deck", client="grout")
    tokens.create(frank, "deck", ["me.read"], None, deck)
    make_token(vera, ["me.read"], name="Vera's script")
    html = signed_in(frank).get("/profile/sessions").content.decode()
    apps = html.split('id="apps"')[1]
    assert "Phone" in apps and "Deck" in apps and "grout" in apps and "Vera" not in apps
    assert apps.count(">Revoke</button>") == 2 and apps.count(">Remove</button>") == 1
    # Each button's form comes back here; the profile's own device list goes back to the profile.
    assert apps.count('name="back" value="sessions"') == 3
    profile = signed_in(frank).get("/profile").content.decode()
    assert ">Remove</button>" in profile and 'name="back"' not in profile


def test_revoking_from_the_page_leads_back_to_it(frank):
    raw, token = make_token(frank, ["me.read"], name="Phone")
    response = signed_in(frank).post(f"/profile/client-tokens/{token.pk}/revoke", {"back": "sessions"})
    assert response["Location"] == "/profile/sessions"
    assert Client().get("/api/users/me", **bearer(raw)).status_code == 401


def test_removing_a_device_from_the_page_leads_back_to_it(frank):
    deck = Device.objects.create(user=frank, client_device_identifier="deck", name="Deck", client="grout")
    raw, _ = tokens.create(frank, "deck", ["me.read"], None, deck)
    response = signed_in(frank).post(f"/profile/devices/{deck.pk}/remove", {"back": "sessions"})
    assert response["Location"] == "/profile/sessions"
    assert not Device.objects.exists() and Client().get("/api/users/me", **bearer(raw)).status_code == 401


@pytest.mark.parametrize("back", ["https://evil.example/", "//evil.example", "profile", ""])
def test_any_other_way_back_is_the_profile(frank, back):
    _, token = make_token(frank, ["me.read"])
    assert signed_in(frank).post(f"/profile/client-tokens/{token.pk}/revoke", {"back": back})["Location"] == "/profile"
