"""The profile's pairing page asks whether its code was claimed by the token's id, not the code.

The code is a secret for its 60 seconds: whoever exchanges it first gets the token. In a URL
path it would be written down by every access log the poll passes, every two seconds.
"""

import re

import pytest
from django.test import Client

from devices.models import ClientToken, PairingCode
from tests.devices.helpers import post_json, signed_in

pytestmark = pytest.mark.django_db


def pairing_page(client, frank):
    client.post("/profile/client-tokens", {"name": "Deck", "scopes": ["me.read"], "expires_in": "never"})
    token = ClientToken.objects.get(user=frank)
    page = client.post(f"/profile/client-tokens/{token.pk}/pair").content.decode()
    code = re.search(r'data-testid="pairing-code">([^<]+)<', page).group(1)
    poll = re.search(r'data-status="([^"]+)"', page).group(1)
    return token, code, poll


def test_the_page_polls_a_url_without_the_code_until_the_app_claims_it(frank):
    client = signed_in(frank)
    token, code, poll = pairing_page(client, frank)
    assert poll == f"/api/client-tokens/{token.pk}/pair/status"
    assert code.replace("-", "") not in poll and code not in poll
    answer = client.get(poll)
    assert answer.status_code == 200 and answer.json()["status"] == "pending"
    assert 0 < answer.json()["expires_in"] <= 60
    assert post_json(Client(), "/api/client-tokens/exchange", {"code": code}).status_code == 200
    gone = client.get(poll)
    assert gone.status_code == 404 and "already used" in gone.json()["detail"]


def test_a_newer_code_is_the_one_polled_and_an_expired_one_is_gone(frank):
    client = signed_in(frank)
    token, first, poll = pairing_page(client, frank)
    second = re.search(
        r'data-testid="pairing-code">([^<]+)<', client.post(f"/profile/client-tokens/{token.pk}/pair").content.decode()
    ).group(1)
    assert post_json(Client(), "/api/client-tokens/exchange", {"code": first}).status_code == 404
    assert client.get(poll).status_code == 200  # the second still waits
    PairingCode.objects.update(expires_at="2000-01-01T00:00:00Z")
    assert client.get(poll).status_code == 404
    assert post_json(Client(), "/api/client-tokens/exchange", {"code": second}).status_code == 404


def test_nobody_else_learns_anything_from_the_poll(frank, vera):
    token, _code, poll = pairing_page(signed_in(frank), frank)
    assert signed_in(vera).get(poll).status_code == 404
    assert Client().get(poll).status_code == 401
    assert signed_in(vera).get(f"/api/client-tokens/{token.pk + 1000}/pair/status").status_code == 404


def test_pages_opened_with_a_code_in_the_query_send_no_referer_with_it(frank):
    assert Client().get("/pair?code=ABCD-EFGH")["Referrer-Policy"] == "no-referrer"
    # Its approval form posts: under no-referrer a browser would send "Origin: null", which the
    # CSRF check refuses; strict-origin never sends the path or the query either.
    assert signed_in(frank).get("/pair/device?user_code=ABCD-EFGH")["Referrer-Policy"] == "strict-origin"
    assert Client().get("/pair/device?user_code=ABCD-EFGH")["Referrer-Policy"] == "strict-origin"
