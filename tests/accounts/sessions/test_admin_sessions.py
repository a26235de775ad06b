"""Sessions in the admin: the list with "End selected sessions", and a person's page with "End all
sessions of this person"; no session key in any URL or page."""

import re
from html import unescape

import pytest
from django.contrib.admin.models import LogEntry

from accounts.models import Role, Session, SignInEvent, User
from accounts.sessions import listing
from tests.accounts.helpers import password_session, whoami
from tests.accounts.sessions.conftest import EDGE_WINDOWS, SAFARI_IPHONE, key_of, text

pytestmark = pytest.mark.django_db

SESSIONS = "/admin/accounts/session/"


@pytest.fixture
def root(db):
    browser, _ = password_session("root", role=Role.ADMIN, HTTP_USER_AGENT=EDGE_WINDOWS)
    return browser


def public_id(browser):
    return Session.objects.get(session_key=key_of(browser)).public_id


def end_selected(admin, *browsers):
    return admin.post(SESSIONS, {"action": "end_selected", "index": "0",
                                 "_selected_action": [public_id(b) for b in browsers]})


def every_key():
    return list(Session.objects.values_list("session_key", flat=True))


def test_the_list_shows_who_browser_address_way_in_and_no_key(root, browser_of):
    browser_of("alice"), browser_of("bob", SAFARI_IPHONE, "203.0.113.9")
    page = root.get(SESSIONS)
    assert page.status_code == 200
    html = page.content.decode()
    rows = [text(row) for row in re.findall(r"<tr>(.*?)</tr>", html.split("<tbody>")[1], re.S)]
    assert sorted(rows) == sorted([
        text(f"alice Firefox on Linux 198.51.100.7 Authentik {row_times('alice')}"),
        text(f"bob Mobile Safari on iOS 203.0.113.9 Authentik {row_times('bob')}"),
        text(f"root Edge on Windows 127.0.0.1 Password {row_times('root')}"),
    ])
    assert not any(key in html for key in every_key())
    assert 'value="end_selected"' in html and "End selected sessions" in html
    assert "delete_selected" not in html


def row_times(username):
    row = Session.objects.get(user__username=username)
    return f"{row.created_at:%Y-%m-%d %H:%M} {row.last_active:%Y-%m-%d %H:%M}"


@pytest.mark.parametrize("page", ["{key}/change/", "{key}/delete/", "{key}/history/", "{key}/", "add/"])
def test_no_admin_page_is_addressed_by_a_session_key(root, browser_of, page):
    alice = browser_of("alice")
    response = root.get(SESSIONS + page.format(key=key_of(alice)))
    assert response.status_code == 404
    assert whoami(alice) == "alice"


def test_end_selected_sessions_ends_those_and_only_those(root, browser_of):
    laptop, phone, bobs = browser_of("alice"), browser_of("alice", SAFARI_IPHONE), browser_of("bob")
    keys = [key_of(phone), key_of(bobs)]
    response = end_selected(root, phone, bobs)
    assert response.status_code == 302
    assert (whoami(phone), whoami(bobs)) == (None, None)
    assert (whoami(laptop), whoami(root)) == ("alice", "root")
    ended = SignInEvent.objects.filter(outcome=SignInEvent.Outcome.ENDED)
    assert sorted(ended.values_list("username", "reason")) == [("alice", "admin_ended_session"),
                                                                ("bob", "admin_ended_session")]
    assert all("ended by root in the admin" in detail for detail in ended.values_list("detail", flat=True))
    # The admin's log names the accounts, never a session.
    logged = LogEntry.objects.all()
    assert sorted(entry.object_repr for entry in logged) == ["alice", "bob"]
    assert not any(key in f"{e.object_id} {e.object_repr} {e.change_message}" for e in logged for key in keys)


def test_the_administrators_own_session_is_not_ended_from_the_list(root, browser_of):
    alice = browser_of("alice")
    response = end_selected(root, root, alice)
    assert (whoami(root), whoami(alice)) == ("root", None)
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("Your own session is not ended from here" in m for m in messages)


def test_a_public_id_the_list_does_not_hold_ends_nothing(root, browser_of):
    alice = browser_of("alice")
    root.post(SESSIONS, {"action": "end_selected", "index": "0", "_selected_action": [key_of(alice), "0" * 32, "\x00"]})
    assert whoami(alice) == "alice"


def test_the_persons_page_lists_their_sessions_and_ends_them_all(root, browser_of):
    laptop, phone, bobs = browser_of("alice"), browser_of("alice", SAFARI_IPHONE), browser_of("bob")
    alice = User.objects.get(username="alice")
    change_page = root.get(f"/admin/accounts/user/{alice.pk}/change/").content.decode()
    assert "Firefox on Linux" in change_page and "Mobile Safari on iOS" in change_page
    assert "End all sessions of this person" in change_page
    assert key_of(laptop) not in change_page and key_of(phone) not in change_page
    confirm = root.get(f"/admin/accounts/user/{alice.pk}/end-sessions/")
    assert confirm.status_code == 200 and "alice has 2 open sessions" in text(confirm.content.decode())
    assert whoami(laptop) == "alice"  # asking changes nothing
    response = root.post(f"/admin/accounts/user/{alice.pk}/end-sessions/")
    assert response["Location"] == f"/admin/accounts/user/{alice.pk}/change/"
    assert (whoami(laptop), whoami(phone), whoami(bobs), whoami(root)) == (None, None, "bob", "root")
    assert LogEntry.objects.get().change_message == "Ended 2 sessions."


def test_the_persons_page_lists_their_most_recent_sessions_and_ends_every_one(root, browser_of, monkeypatch):
    monkeypatch.setattr(listing, "SHOWN", 2)
    browsers = [browser_of("alice", address=f"203.0.113.{n}") for n in range(1, 5)]
    alice = User.objects.get(username="alice")
    change_page = text(root.get(f"/admin/accounts/user/{alice.pk}/change/").content.decode())
    assert "203.0.113.4" in change_page and "203.0.113.1" not in change_page
    assert "And 2 older sessions, not listed here: all of them in Sessions" in change_page
    malice, _ = password_session("malice", REMOTE_ADDR="192.0.2.99")  # a search for "alice" finds malice too
    link = re.search(r'href="(/admin/accounts/session/\?[^"]+)">all of them in Sessions', root.get(
        f"/admin/accounts/user/{alice.pk}/change/").content.decode()).group(1)
    listed_there = text(root.get(unescape(link)).content.decode())
    assert all(f"203.0.113.{n}" in listed_there for n in range(1, 5)) and "192.0.2.99" not in listed_there
    assert whoami(malice) == "malice"
    confirm = text(root.get(f"/admin/accounts/user/{alice.pk}/end-sessions/").content.decode())
    assert "alice has 4 open sessions" in confirm and "And 2 older, not listed; they end too." in confirm
    root.post(f"/admin/accounts/user/{alice.pk}/end-sessions/")
    assert [whoami(browser) for browser in browsers] == [None] * 4


def test_only_administrators_see_or_end_sessions(browser_of):
    editor, _ = password_session("eddie", role=Role.EDITOR)
    alice = browser_of("alice")
    assert editor.get(SESSIONS).status_code == 302  # to the admin's sign-in
    editor.post(SESSIONS, {"action": "end_selected", "index": "0", "_selected_action": [public_id(alice)]})
    user = User.objects.get(username="alice")
    editor.post(f"/admin/accounts/user/{user.pk}/end-sessions/")
    assert whoami(alice) == "alice"


@pytest.mark.parametrize("lookup", ["session_key__startswith", "session_key__lt", "session_data__contains",
                                    "id_token__startswith", "refresh_token__startswith", "public_id__startswith"])
def test_the_lists_filters_cannot_guess_a_session_key_letter_by_letter(root, browser_of, lookup):
    """A filter on the key (or what the row keeps of its tokens) in the list's URL would make the
    list's count an oracle: right first letters list the session, wrong ones do not."""
    alice = browser_of("alice")
    key = key_of(alice)
    right = root.get(SESSIONS, {lookup: key[:2] if "key" in lookup else "a"})
    wrong = root.get(SESSIONS, {lookup: "~~"})
    assert right.status_code == wrong.status_code == 400
    assert "alice" not in right.content.decode()


def test_the_lists_own_filters_still_narrow_it(root, browser_of):
    browser_of("alice")
    by_password = root.get(SESSIONS, {"signin_method__exact": "password"}).content.decode()
    by_provider = root.get(SESSIONS, {"provider__exact": "authentik"}).content.decode()
    assert "root" in by_password and "alice" not in by_password.split("<tbody>")[1]
    assert "alice" in by_provider.split("<tbody>")[1] and "root" not in by_provider.split("<tbody>")[1]
