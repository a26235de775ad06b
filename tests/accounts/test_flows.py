"""Sign-ins under way live in a signed cookie, not in a session row: a start that never comes back
writes nothing, and several tabs still each finish theirs."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.test import Client

from accounts.models import Session, SignInEvent
from accounts.oidc.flows import CALLBACK_COOKIE, MAX_FLOWS, SALT, START_COOKIE
from tests.conftest import BASE_URL, messages_of, start

pytestmark = pytest.mark.django_db


def finish(client, fake, location, person="carol"):
    return client.get(fake.authorize(location, person).replace(BASE_URL, ""))


def test_fifty_cookieless_starts_write_no_session_row(idp):
    for _ in range(50):
        assert Client().get("/api/login/openid").status_code == 302
    assert Session.objects.count() == 0
    assert not SignInEvent.objects.exists()


def test_the_flow_cookie_is_scoped_signed_and_holds_no_secret(client, idp, settings):
    response = client.get("/api/login/openid", {"next": "/library/"})
    query = parse_qs(urlsplit(response["Location"]).query)
    for name, path in ((CALLBACK_COOKIE, "/api/oauth/openid"), (START_COOKIE, "/api/login/openid")):
        cookie = response.cookies[name]
        assert (cookie["path"], cookie["httponly"], cookie["samesite"]) == (path, True, "Lax")
        assert cookie["max-age"] == settings.OIDC_STATE_SECONDS
    value = response.cookies[CALLBACK_COOKIE].value
    ((state, provider, next_url, _created),) = signing.loads(value, salt=SALT)
    assert (state, provider, next_url) == (query["state"][0], idp.profile, "/library/")
    assert query["nonce"][0] not in value and query["code_challenge"][0] not in value


def test_several_tabs_each_finish_their_own_sign_in(client, idp):
    locations = [start(client, next=f"/?tab={tab}") for tab in range(3)]
    for tab in (2, 0, 1):
        assert finish(client, idp, locations[tab])["Location"] == f"/?tab={tab}"
    assert client.get("/api/users/me").json()["username"] == "carol"
    assert Session.objects.count() == 1


def test_ten_flows_fit_and_an_eleventh_makes_room_by_dropping_the_oldest(client, idp):
    locations = [start(client) for _ in range(MAX_FLOWS + 1)]
    assert len(client.cookies[CALLBACK_COOKIE].value) < 4096
    refused = finish(client, idp, locations[0])
    assert refused["Location"].startswith("/login")
    assert "Start again" in " ".join(messages_of(refused))
    assert finish(client, idp, locations[1])["Location"] == "/"
    assert finish(client, idp, locations[MAX_FLOWS])["Location"] == "/"


def test_a_tampered_flow_cookie_is_refused(client, idp):
    location = start(client)
    state = parse_qs(urlsplit(location).query)["state"][0]
    forged = signing.dumps([[state, idp.profile, "https://evil.example/", 0]], salt="not-the-sites")
    client.cookies[CALLBACK_COOKIE] = forged
    response = finish(client, idp, location)
    assert response["Location"].startswith("/login") and "Start again" in " ".join(messages_of(response))
    assert client.get("/api/users/me").status_code == 401 and Session.objects.count() == 0


def test_a_used_flow_leaves_the_cookie_and_its_replay_is_refused(client, idp):
    location = start(client)
    callback = idp.authorize(location, "carol").replace(BASE_URL, "")
    copied = client.cookies[CALLBACK_COOKIE].value
    response = client.get(callback)
    assert response["Location"] == "/" and response.cookies[CALLBACK_COOKIE].value == ""
    replay = Client()
    replay.cookies[CALLBACK_COOKIE] = copied  # the flow cookie as it was before the callback
    refused = replay.get(callback)
    assert refused["Location"].startswith("/login") and "Start again" in " ".join(messages_of(refused))
    assert replay.get("/api/users/me").status_code == 401
