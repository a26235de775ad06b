"""``oidc_doctor --claims``: what a sign-in with pasted claims would do, without doing it."""

import json

import jwt
import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts import group_reports
from accounts.models import SignInEvent, User
from tests.accounts.oidc.doctor import doctor, findings
from tests.conftest import configure, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(authentik, settings, monkeypatch):
    """Authentik, mirroring kids and romm-*, a viewer by default, example.com only; an app that says
    what groups let a person see."""
    configure(settings, authentik, OIDC_GROUPS="kids,romm-*", OIDC_ROLE_DEFAULT="viewer",
              OIDC_ALLOWED_EMAIL_DOMAINS="example.com")
    monkeypatch.setattr(group_reports, "REPORTS", [
        lambda names, is_admin: ["everything"] if is_admin else [f"platforms of {name}" for name in sorted(names)]
    ])
    return authentik


def pasted(tmp_path, *documents):
    paths = []
    for index, document in enumerate(documents):
        path = tmp_path / f"claims-{index}"
        path.write_text(document if isinstance(document, str) else json.dumps(document))
        paths += ["--claims", str(path)]
    return paths


def claims_of(fake, person, **changes):
    return {"iss": fake.issuer, "sub": fake.subject(person), "email": f"{person}@example.com",
            "email_verified": True, "groups": ["romm-viewers"], **changes}


def test_a_new_person_joins_from_nothing_with_the_default_role(site, tmp_path):
    status, out = doctor("--json", *pasted(tmp_path, claims_of(site, "erin", groups=["staff", "kids"])))
    verdict = json.loads(out)
    assert status == 0 and verdict["refused"] is None
    assert (verdict["account"], verdict["account_reached"]) == (None, "new")
    assert verdict["role"]["role"] == "viewer" and "OIDC_ROLE_DEFAULT=viewer" in verdict["role"]["how"]
    assert (verdict["groups"]["join"], verdict["groups"]["leave"], verdict["groups"]["created"]) == (
        ["kids"], [], ["kids"])
    assert verdict["email"]["verdict"] == "allowed"
    assert verdict["sees"] == ["platforms of kids"]
    assert User.objects.count() == Group.objects.count() == SignInEvent.objects.count() == 0


def test_an_existing_account_shows_what_it_would_join_and_leave_and_nothing_is_written(site, client, tmp_path):
    sign_in(client, site, "carol", groups=["romm-viewers", "kids"])
    User.objects.get(username="carol").groups.add(Group.objects.create(name="movie-night"))
    events = SignInEvent.objects.count()
    status, out = doctor(*pasted(tmp_path, claims_of(site, "carol", groups=["romm-viewers", "romm-family"])))
    assert status == 0
    assert "account:  carol: the account it is linked to" in out
    assert "join:     romm-family" in out and "leave:    kids" in out and "keep:     romm-viewers" in out
    assert "groups then: movie-night, romm-family, romm-viewers" in out
    assert "sees:     platforms of movie-night" in out
    assert sorted(User.objects.get(username="carol").groups.values_list("name", flat=True)) == [
        "kids", "movie-night", "romm-viewers"]
    assert SignInEvent.objects.count() == events and not Group.objects.filter(name="romm-family").exists()


def test_an_administrator_sees_what_admins_see(site, tmp_path):
    _, out = doctor("--json", *pasted(tmp_path, claims_of(site, "alice", groups=["romm-admins"])))
    verdict = json.loads(out)
    assert verdict["role"]["role"] == "admin" and verdict["sees"] == ["everything"]


def test_an_email_elsewhere_is_the_refusal_the_person_would_read(site, tmp_path):
    status, out = doctor(*pasted(tmp_path, claims_of(site, "carol", email="carol@elsewhere.org")))
    assert status == 1
    assert "email:    refused: Your email address at Authentik is in a domain this site does not accept" in out
    assert "Refused: email_domain." in out


def test_an_id_token_and_its_userinfo_are_read_together(site, tmp_path):
    token = jwt.encode({"iss": site.issuer, "sub": site.subject("bob"), "aud": "romm"}, "not-checked-here-any-32-byte-long-key",
                       algorithm="HS256")
    userinfo = {"sub": "someone-else", "email": "bob@example.com", "email_verified": True,
                "groups": ["romm-editors"]}
    _, out = doctor("--json", *pasted(tmp_path, token, userinfo))
    verdict = json.loads(out)
    assert verdict["subject"] == site.subject("bob")  # the ID token's protocol claims stand
    assert verdict["role"]["role"] == "editor" and verdict["groups"]["join"] == ["romm-editors"]


def test_no_group_claim_leaves_the_groups_as_they_are(site, tmp_path):
    claims = claims_of(site, "carol")
    del claims["groups"]
    _, out = doctor(*pasted(tmp_path, claims))
    assert "the groups claim is absent: the person's groups stay as they are" in out
    assert "role:     viewer: the groups claim is absent: a new account is a viewer." in out


@pytest.mark.parametrize("text, words", [("hello", "neither a JSON object nor a token"), ("{nope", "not valid JSON"),
                                         ("[1, 2]", "not an object of claims"), ("a.b.c", "not base64 JSON"),
                                         ('{"sub": "x", "groups": ["romm-kids\\ud800"]}', "unpaired surrogate")])
def test_unreadable_claims_are_a_sentence_not_a_traceback(site, tmp_path, text, words):
    with pytest.raises(CommandError, match=words):
        call_command("oidc_doctor", *pasted(tmp_path, text))


def test_what_the_claims_say_reaches_the_terminal_as_text_not_as_control_sequences(site, tmp_path):
    """A pasted token is the provider's text: an escape sequence in it (ESC [2J clears the screen;
    OSC 52 writes the clipboard) or a right-to-left override is printed escaped, not obeyed."""
    claims = claims_of(site, "erin", sub="erin\x1b[2J\x1b]52;c;ZXZpbA==\x07", iss=f"{site.issuer}\x1b[8m",
                       groups=["romm-kids\u202egnp.exe"])
    _, out = doctor(*pasted(tmp_path, claims))
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "subject erin\\x1b[2J\\x1b]52;c;ZXZpbA==\\x07 " in out and "join:     romm-kids\\u202egnp.exe" in out


def test_the_live_report_summarises_groups_and_domains(site):
    _, found = findings()
    assert "groups matching kids, romm-* are mirrored from the groups claim" in found["groups"]["message"]
    assert "only verified emails in example.com sign in" in found["groups"]["message"]


def test_an_account_is_judged_by_what_its_last_sign_in_showed(site, client, settings):
    """After the configuration changes: what the person's next sign-in would do, from their last one."""
    sign_in(client, site, "carol", groups=["romm-viewers", "kids", "staff"])
    configure(settings, site, OIDC_GROUPS="kids,staff", OIDC_ROLE_DEFAULT="viewer",
              OIDC_ALLOWED_EMAIL_DOMAINS="example.org")
    status, out = doctor("--account", "carol")
    assert status == 1
    assert "as 'carol' last signed in there, email_verified taken as true" in out
    assert "join:     staff" in out and "keep:     kids" in out
    assert "leave:    -" in out  # romm-viewers is no longer mirrored: never touched
    assert "groups then: kids, romm-viewers, staff" in out
    assert "email:    refused: Your email address at Authentik is in a domain this site does not accept" in out
    assert sorted(User.objects.get(username="carol").groups.values_list("name", flat=True)) == [
        "kids", "romm-viewers"]


def test_an_account_without_a_linked_identity_is_told_to_paste_claims(site):
    User.objects.create_user("zoe", email="zoe@example.com")
    with pytest.raises(CommandError, match="paste what the provider says about them with --claims"):
        call_command("oidc_doctor", "--account", "zoe")
