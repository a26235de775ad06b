"""Provider groups mirrored as Django groups (OIDC_GROUPS): at every sign-in and every recheck the
person's membership in the matching groups is exactly what the roles claim says."""

import logging
import threading
import time

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models.signals import m2m_changed
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.audit import health
from accounts.models import SignInEvent, User
from accounts.oidc import groups
from devices import client_tokens as tokens
from romm_site.envvars import EnvReader, read_providers
from tests.accounts.oidc.test_several_providers import configure_two, sign_in_with
from tests.conftest import BASE_URL, configure, sign_in, start
from tests.fakeidp import FakeProvider

pytestmark = pytest.mark.django_db

PATTERNS = "kids,family,romm-*"
INTERVAL = 60


@pytest.fixture
def mirrored(idp, settings):
    """Both profiles, mirroring kids, family and every romm-* group."""
    configure(settings, idp, OIDC_GROUPS=PATTERNS, OIDC_ROLE_DEFAULT="viewer")
    return idp


@pytest.fixture
def rechecked(idp, settings):
    configure(settings, idp, OIDC_GROUPS=PATTERNS, OIDC_ROLE_DEFAULT="viewer",
              OIDC_SESSION_RECHECK_SECONDS=str(INTERVAL))
    return idp


def later(seconds):
    return time_machine.travel(time.time() + seconds, tick=True)


def groups_of(username):
    return sorted(User.objects.get(username=username).groups.values_list("name", flat=True))


def group_events(username=None):
    rows = SignInEvent.objects.filter(method=SignInEvent.Method.GROUP).order_by("pk")
    if username:
        rows = rows.filter(user__username=username)
    return [(row.reason, row.detail, row.outcome, row.provider) for row in rows]


def again(fake, person, **claims):
    """A new browser signs ``person`` in; returns its client."""
    browser = Client()
    response = sign_in(browser, fake, person, **claims)
    assert response.status_code == 302 and response["Location"] == "/", response
    return browser


# --- which names a pattern matches ------------------------------------------------------------
@pytest.mark.parametrize(
    "name, matched",
    [
        ("kids", True),
        ("family", True),
        ("romm-kids", True),
        ("romm-", True),
        ("Kids", False),  # names are compared exactly, as the provider spells them
        ("kids2", False),
        ("romm", False),
        ("xromm-kids", False),
        ("family ", False),
    ],
)
def test_patterns_match_exact_names_and_trailing_star_prefixes(name, matched):
    assert groups.matches(PATTERNS.split(","), name) is matched


def test_the_setting_is_read_per_provider():
    env = {"OIDC_CLIENT_ID": "x", "OIDC_PROVIDERS": "one,two", "OIDC_GROUPS": "kids, family ",
           "OIDC_TWO_GROUPS": "'two-*'"}
    one, two = read_providers(EnvReader(env), BASE_URL)
    assert (one["groups"], two["groups"]) == (["kids", "family"], ["two-*"])


# --- a sign-in ---------------------------------------------------------------------------------
def test_a_sign_in_joins_the_matching_groups_creating_them(mirrored, caplog):
    caplog.set_level(logging.INFO, logger="accounts")
    again(mirrored, "carol", groups=["romm-viewers", "kids", "staff", "kidsclub"])
    assert groups_of("carol") == ["kids", "romm-viewers"]
    assert sorted(Group.objects.values_list("name", flat=True)) == ["kids", "romm-viewers"]
    assert group_events("carol") == [
        ("group_joined", "kids", "changed", mirrored.profile),
        ("group_joined", "romm-viewers", "changed", mirrored.profile),
    ]
    joined = [r.getMessage() for r in caplog.records if "joined group" in r.getMessage()]
    assert joined == [f"OIDC groups: 'carol' joined group 'kids' ({mirrored.profile})",
                      f"OIDC groups: 'carol' joined group 'romm-viewers' ({mirrored.profile})"]


def test_groups_the_claim_no_longer_carries_are_left_and_unmatched_ones_never_touched(mirrored, caplog):
    hand_made = Group.objects.create(name="movie-night")
    again(mirrored, "carol", groups=["romm-viewers", "kids"])
    carol = User.objects.get(username="carol")
    carol.groups.add(hand_made, Group.objects.create(name="family"))  # by hand in the admin
    caplog.set_level(logging.INFO, logger="accounts")
    again(mirrored, "carol", groups=["romm-viewers", "movie-night-fans"])
    assert groups_of("carol") == ["movie-night", "romm-viewers"]
    assert group_events("carol")[-2:] == [
        ("group_left", "family", "changed", mirrored.profile),
        ("group_left", "kids", "changed", mirrored.profile),
    ]
    left = [r.getMessage() for r in caplog.records if "left group" in r.getMessage()]
    assert len(left) == 2
    assert Group.objects.filter(name="kids").exists()  # the group stays, for the others in it


def test_an_absent_claim_changes_nothing(mirrored):
    again(mirrored, "carol", groups=["romm-viewers", "kids"])
    before = SignInEvent.objects.count()
    again(mirrored, "carol", groups=...)
    assert groups_of("carol") == ["kids", "romm-viewers"]
    assert SignInEvent.objects.count() == before + 1  # the sign-in itself, nothing else


def test_a_present_empty_claim_leaves_every_mirrored_group(mirrored):
    again(mirrored, "carol", groups=["romm-viewers", "kids"])
    User.objects.get(username="carol").groups.add(Group.objects.create(name="movie-night"))
    again(mirrored, "carol", groups=[])
    assert groups_of("carol") == ["movie-night"]
    assert User.objects.get(username="carol").role == "viewer"  # OIDC_ROLE_DEFAULT


def test_a_sign_in_that_changes_nothing_writes_nothing_about_groups(mirrored):
    again(mirrored, "carol", groups=["romm-viewers", "kids"])
    events = SignInEvent.objects.count()
    browser = Client()
    with CaptureQueriesContext(connection) as queries:
        sign_in(browser, mirrored, "carol", groups=["kids", "romm-viewers"])
    writes = [q["sql"] for q in queries.captured_queries
              if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
              and ("auth_group" in q["sql"] or "user_groups" in q["sql"])]
    assert writes == []
    assert not any("FOR UPDATE" in q["sql"] for q in queries.captured_queries)
    assert SignInEvent.objects.count() == events + 1


def test_the_same_group_twice_in_the_claim_is_joined_once(mirrored):
    again(mirrored, "carol", groups=["kids", "kids", "romm-viewers"])
    assert groups_of("carol") == ["kids", "romm-viewers"]
    assert len(group_events("carol")) == 2


def test_a_refused_sign_in_changes_no_group(mirrored, settings):
    configure(settings, mirrored, OIDC_GROUPS=PATTERNS)  # no default role: unmatched groups are refused
    again(mirrored, "carol", groups=["romm-viewers", "kids"])
    response = sign_in(Client(), mirrored, "carol", groups=["kids", "family"])
    assert response["Location"].startswith("/login")
    assert groups_of("carol") == ["kids", "romm-viewers"]
    assert not Group.objects.filter(name="family").exists()


# --- a hostile claim -----------------------------------------------------------------------------
def test_a_claim_of_ten_thousand_matching_names_creates_a_bounded_number_of_groups(mirrored, caplog):
    names = [f"romm-{n:05}" for n in range(10_000)]
    again(mirrored, "carol", groups=["romm-viewers", *names])
    assert Group.objects.count() == groups.MAX_CREATED
    assert len(groups_of("carol")) == groups.MAX_CREATED
    assert len(group_events("carol")) == groups.MAX_CREATED
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"OIDC groups: the groups claim from {mirrored.profile} matches more than 100 groups; the first 100 count",
        "OIDC groups: 80 more group(s) for 'carol' not created: one sign-in creates at most 20"]


def test_names_a_group_cannot_have_are_ignored(mirrored):
    again(mirrored, "carol", groups=["romm-viewers", "romm-" + "x" * 200, "romm-a\x00b", "romm-new\nline", ""])
    assert groups_of("carol") == ["romm-viewers"]


def test_a_group_made_since_the_sign_in_looked_is_taken_not_duplicated(mirrored):
    """Group.name is unique: a simultaneous sign-in that made the group first wins the name, and
    this one joins that group (tests/e2e/test_group_sync.py runs the race itself)."""
    kids = Group.objects.create(name="kids")
    assert groups._get_or_create("kids") == (kids, False)
    assert Group.objects.filter(name="kids").count() == 1


def held_sign_ins(callbacks):
    """Each browser calls back its ``(browser, path)`` in its own thread: the first is held inside its
    transaction once it has written a group change, while the others come."""
    first_wrote, results = threading.Event(), {}

    def hold_the_first(sender, action, **kwargs):
        if action == "post_remove" and not first_wrote.is_set():
            first_wrote.set()
            time.sleep(0.5)  # the other sign-ins reach the account meanwhile

    def sign_in_at(index):
        if index:
            first_wrote.wait(5)
        browser, path = callbacks[index]
        results[index] = browser.get(path)
        connection.close()

    m2m_changed.connect(hold_the_first, sender=User.groups.through)
    try:
        threads = [threading.Thread(target=sign_in_at, args=(index,)) for index in range(len(callbacks))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
    finally:
        m2m_changed.disconnect(hold_the_first, sender=User.groups.through)
    return [(results[index].status_code, results[index]["Location"]) for index in range(len(callbacks))]


def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's write lock serialises sign-ins: no other sign-in can run meanwhile")


@pytest.mark.django_db(transaction=True)
def test_simultaneous_sign_ins_of_one_person_change_the_groups_once(mirrored):
    """The second of two simultaneous sign-ins waits for the first's changes and finds nothing left
    to do: no group joined or left twice, no row recorded twice. SQLite's write lock runs sign-ins
    one after the other; on PostgreSQL the first is held inside its transaction while the second
    comes (tests/e2e/test_group_sync.py runs many at once against the real processes)."""
    postgresql_only()
    again(mirrored, "carol", groups=["romm-viewers", "kids"])
    callbacks = []
    for browser in (Client(), Client()):
        location = mirrored.authorize(start(browser), "carol", groups=["romm-viewers", "family"])
        callbacks.append((browser, location.replace(BASE_URL, "")))
    assert held_sign_ins(callbacks) == [(302, "/"), (302, "/")]
    assert groups_of("carol") == ["family", "romm-viewers"]
    assert group_events("carol")[2:] == [("group_joined", "family", "changed", mirrored.profile),
                                         ("group_left", "kids", "changed", mirrored.profile)]


@pytest.mark.django_db(transaction=True)
def test_simultaneous_sign_ins_through_two_providers_change_the_groups_once(requests_mock, settings):
    """Two identities of one account (two providers mirroring the same groups): the account's row,
    not the identity's, makes the second sign-in wait for the first."""
    postgresql_only()
    fakes = FakeProvider(requests_mock, "authentik"), FakeProvider(requests_mock, "authelia")
    configure_two(settings, *fakes, OIDC_ROLE_DEFAULT="viewer", OIDC_GROUPS="family,kids,romm-*")
    for fake in fakes:
        sign_in_with(Client(), fake, "carol", groups=["romm-viewers", "kids"])
    callbacks = []
    for fake, path in zip(fakes, ("/api/login/openid", "/api/login/openid/authelia")):
        browser = Client()
        location = fake.authorize(start(browser, path), "carol", groups=["romm-viewers", "family"])
        callbacks.append((browser, location.replace(BASE_URL, "")))
    assert held_sign_ins(callbacks) == [(302, "/"), (302, "/")]
    assert groups_of("carol") == ["family", "romm-viewers"]
    assert [(reason, detail) for reason, detail, _, _ in group_events("carol")][2:] == [
        ("group_joined", "family"), ("group_left", "kids")]


# --- several providers ---------------------------------------------------------------------------
def test_each_provider_syncs_only_the_groups_of_its_own_patterns(requests_mock, settings):
    authentik = FakeProvider(requests_mock, "authentik")
    authelia = FakeProvider(requests_mock, "authelia")
    configure_two(settings, authentik, authelia, OIDC_ROLE_DEFAULT="viewer",
                  OIDC_AUTHENTIK_GROUPS="ak-*", OIDC_AUTHELIA_GROUPS="ae-*")
    sign_in_with(Client(), authentik, "carol", groups=["romm-viewers", "ak-kids", "ae-family"])
    assert groups_of("carol") == ["ak-kids"]
    sign_in_with(Client(), authelia, "carol", groups=["ae-family"])
    assert groups_of("carol") == ["ae-family", "ak-kids"]
    sign_in_with(Client(), authentik, "carol", groups=["romm-viewers"])
    assert groups_of("carol") == ["ae-family"]
    assert [(r, d, p) for r, d, _, p in group_events("carol")] == [
        ("group_joined", "ak-kids", "authentik"), ("group_joined", "ae-family", "authelia"),
        ("group_left", "ak-kids", "authentik"),
    ]


# --- the recheck ------------------------------------------------------------------------------------
def test_the_session_recheck_leaves_a_group_removed_at_the_provider(client, rechecked):
    sign_in(client, rechecked, "carol", groups=["romm-viewers", "kids"])
    rechecked.change("carol", groups=["romm-viewers", "family"])
    assert client.get("/api/users/me").status_code == 200
    assert groups_of("carol") == ["kids", "romm-viewers"]  # within the interval
    with later(INTERVAL + 1):
        assert client.get("/api/users/me").status_code == 200
    assert groups_of("carol") == ["family", "romm-viewers"]
    assert group_events("carol")[-2:] == [("group_joined", "family", "changed", rechecked.profile),
                                          ("group_left", "kids", "changed", rechecked.profile)]


def test_an_app_token_recheck_leaves_a_group_removed_at_the_provider(rechecked):
    browser = Client()
    sign_in(browser, rechecked, "carol", groups=["romm-viewers", "kids"])
    raw, _ = tokens.create(User.objects.get(username="carol"), "script", ["me.read"], None)
    browser.post("/logout")  # from now on only the app acts for carol
    rechecked.change("carol", groups=["romm-viewers"])
    with later(INTERVAL + 1):
        assert Client().get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    assert groups_of("carol") == ["romm-viewers"]
    assert group_events("carol")[-1] == ("group_left", "kids", "changed", rechecked.profile)


def test_a_recheck_whose_claims_are_no_text_ends_the_session_and_changes_nothing(rechecked):
    """A name with half of a surrogate pair ("\\ud800") is valid JSON but no text: no database stores it."""
    browser = Client(raise_request_exception=False)
    sign_in(browser, rechecked, "carol", groups=["romm-viewers", "kids"])
    rechecked.change("carol", groups=["romm-viewers", "romm-kids\ud800"])
    with later(INTERVAL + 1):
        assert browser.get("/api/users/me").status_code == 401
    assert groups_of("carol") == ["kids", "romm-viewers"] and Group.objects.count() == 2
    assert SignInEvent.objects.filter(reason="recheck_invalid", outcome="refused").count() == 1


def test_a_recheck_that_changes_nothing_writes_nothing(client, rechecked):
    sign_in(client, rechecked, "carol", groups=["romm-viewers", "kids"])
    events = SignInEvent.objects.count()
    with later(INTERVAL + 1):
        assert client.get("/api/users/me").status_code == 200
    assert len(rechecked.refreshes()) == 1 and SignInEvent.objects.count() == events


# --- the sign-in health report ------------------------------------------------------------------------
def test_group_changes_are_not_counted_as_sign_ins(mirrored):
    again(mirrored, "carol", groups=["romm-viewers", "kids", "family"])
    found = health.report(7)
    assert [entry["total"] for entry in found["sign_ins"]["by_way_in"]] == [1]
    assert [entry["total"] for entry in found["sign_ins"]["by_outcome"]] == [1]
    assert found["refusals"] == [] and found["sessions_ended"] == []


# --- a sign-in and an administrator's edit of the same account -------------------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", [{"role": "editor"}, {"groups": []}], ids=["role", "groups"])
def test_an_admin_edit_that_unlinks_during_a_sign_in_waits_for_it_instead_of_deadlocking(mirrored, monkeypatch,
                                                                                          change):
    """The sign-in takes the identity's row, then the account's (OIDCBackend.sign_into); an administrator's
    save that changes the account (its role, or its groups) and unlinks that identity must take them in
    the same order, or each waits for the other and PostgreSQL ends one of them with an error (a 500)."""
    postgresql_only()
    from accounts.oidc.backend import OIDCBackend
    from tests.accounts.test_admin import change_form_data

    again(mirrored, "carol", groups=["romm-viewers", "kids"])
    carol = User.objects.get(username="carol")
    admin = Client(raise_request_exception=False)
    admin.force_login(User.objects.create_user("root", email="root@example.com", role="admin"))
    form = change_form_data(admin, carol, delete_identities=list(carol.identities.all()),
                            **{"groups": list(carol.groups.values_list("pk", flat=True)), **change})
    browser = Client(raise_request_exception=False)
    callback = mirrored.authorize(start(browser), "carol", groups=["romm-viewers"]).replace(BASE_URL, "")
    identity_written, results = threading.Event(), {}
    update_user = OIDCBackend.update_user

    def held(self, *args):
        identity_written.set()
        time.sleep(0.5)  # the administrator's save reaches the account meanwhile
        return update_user(self, *args)

    def run(name, call):
        results[name] = call()
        connection.close()

    monkeypatch.setattr(OIDCBackend, "update_user", held)
    threads = [threading.Thread(target=run, args=("sign-in", lambda: browser.get(callback))),
               threading.Thread(target=run, args=("admin", lambda: identity_written.wait(5)
                                                  and admin.post(f"/admin/accounts/user/{carol.pk}/change/", form)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert (results["sign-in"].status_code, results["sign-in"]["Location"]) == (302, "/")
    assert results["admin"].status_code == 302
    carol.refresh_from_db()
    assert not carol.identities.exists() and browser.get("/api/users/me").status_code == 401
    assert carol.role == change.get("role", "viewer")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("by", ["sign-in", "recheck"])
def test_an_admin_edit_of_the_groups_while_the_provider_changes_them_waits_for_it(rechecked, by):
    """Both change the same memberships: the sign-in (or the session's recheck) holds the account's row
    while it does, so the administrator's save must wait for that row too, or each waits for the
    other's memberships and PostgreSQL ends one of them with an error (a 500)."""
    postgresql_only()
    from tests.accounts.test_admin import change_form_data

    browser = again(rechecked, "carol", groups=["romm-viewers", "kids"])
    browser.raise_request_exception = False
    carol, family = User.objects.get(username="carol"), Group.objects.create(name="family")
    admin = Client(raise_request_exception=False)
    admin.force_login(User.objects.create_user("root", email="root@example.com", role="admin"))
    wanted = list(Group.objects.filter(name__in=["romm-viewers", "family"]).values_list("pk", flat=True))
    form = change_form_data(admin, carol, groups=wanted)
    if by == "sign-in":
        browser = Client(raise_request_exception=False)
        path = rechecked.authorize(start(browser), "carol", groups=["romm-viewers", "family"]).replace(BASE_URL, "")
    else:
        rechecked.change("carol", groups=["romm-viewers", "family"])
        path = "/api/users/me"
    joined, results = threading.Event(), {}

    def hold_the_provider(sender, action, **kwargs):
        if action == "post_add" and threading.current_thread().name == by:
            joined.set()
            time.sleep(0.5)  # the administrator's save reaches the memberships meanwhile

    def run(call):
        results[threading.current_thread().name] = call()
        connection.close()

    m2m_changed.connect(hold_the_provider, sender=User.groups.through)
    try:
        with later(INTERVAL + 1):
            threads = [threading.Thread(target=run, name=by, args=(lambda: browser.get(path),)),
                       threading.Thread(target=run, name="admin", args=(lambda: joined.wait(5) and admin.post(
                           f"/admin/accounts/user/{carol.pk}/change/", form),))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(20)
    finally:
        m2m_changed.disconnect(hold_the_provider, sender=User.groups.through)
    assert joined.is_set() and results[by].status_code in (200, 302) and results[by].get("Location", "/") == "/"
    assert results["admin"].status_code == 302
    assert groups_of("carol") == ["family", "romm-viewers"] and family.pk in wanted
