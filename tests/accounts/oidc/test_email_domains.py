"""OIDC_ALLOWED_EMAIL_DOMAINS: a sign-in whose email is in another domain, or not usable at all, is
refused with a sentence, one log line and nothing written; at the recheck too."""

import logging
import time

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.test import Client

from accounts.models import Identity, Session, SignInEvent, User
from accounts.oidc.email_domains import allowed, normalise_entry
from devices import client_tokens as tokens
from devices.models import ClientToken
from romm_site.envvars import EnvReader, read_providers
from tests.accounts.test_checks import problems
from tests.conftest import BASE_URL, configure, messages_of, sign_in

INTERVAL = 60
ELSEWHERE = "is in a domain this site does not accept"
UNPROVEN = "did not send a verified email address for you"
ENDED = "no longer a verified address in a domain this site accepts"


@pytest.fixture
def domains(idp, settings):
    """Both profiles; only example.com may sign in; groups are mirrored, so a refusal could create some."""
    configure(settings, idp, OIDC_ALLOWED_EMAIL_DOMAINS="example.com", OIDC_GROUPS="romm-*,kids")
    return idp


def refused(fake, person, **claims):
    """``person`` signs in and is refused: returns the sentence shown on /login."""
    browser = Client()
    response = sign_in(browser, fake, person, **claims)
    assert response.status_code == 302 and response["Location"].startswith("/login"), response
    assert browser.get("/api/users/me").status_code == 401
    return " ".join(messages_of(browser.get(response["Location"])))


def signed_in(fake, person, **claims):
    browser = Client()
    response = sign_in(browser, fake, person, **claims)
    assert response["Location"] == "/", messages_of(browser.get(response["Location"]))
    return browser


# --- how a domain is compared ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "entries, email, expected",
    [
        (["example.com"], "carol@example.com", True),
        (["example.com"], "Carol@EXAMPLE.COM", True),
        (["Example.COM."], "carol@example.com", True),  # an entry's case and trailing dot do not matter
        (["example.com"], "carol@evil.example.com", False),  # a subdomain is another domain
        (["example.com"], "carol@example.com.evil.org", False),
        (["example.com"], "carol@evilexample.com", False),
        (["example.com"], "carol@example.com.", False),
        (["example.com"], '"carol@example.com"@evil.org', False),  # the domain follows the last @
        (["example.com"], '"x@evil.org"@example.com', True),
        (["kids.example"], "carol@\u212aids.example", False),  # the Kelvin sign lower-cases to k
        (["example.com"], "carol@\uff45xample.com", False),  # a full-width e
        (["example.com"], "carol@exampl\u0435.com", False),  # a Cyrillic e
        (["bücher.example"], "carol@bücher.example", True),
        (["bücher.example"], "carol@xn--bcher-kva.example", True),
        (["xn--bcher-kva.example"], "carol@bücher.example", True),
        (["bücher.example"], "carol@BÜCHER.example", False),  # only ASCII letters are compared case-blind
        (["example.com", "example.org"], "carol@example.org", True),
        ([], "carol@anywhere.test", True),
    ],
)
def test_a_domain_matches_only_itself(entries, email, expected):
    assert allowed(entries, email) is expected


@pytest.mark.parametrize("entry", ["@example.com", "*.example.com", "example..com", "-example.com", "a b.com",
                                   "https://example.com", ""])
def test_what_is_not_a_domain_name_is_no_entry(entry):
    assert normalise_entry(entry) is None


def test_the_setting_is_read_per_provider():
    env = {"OIDC_CLIENT_ID": "x", "OIDC_PROVIDERS": "one,two", "OIDC_ALLOWED_EMAIL_DOMAINS": "example.com, example.org",
           "OIDC_TWO_ALLOWED_EMAIL_DOMAINS": "school.example"}
    one, two = read_providers(EnvReader(env), BASE_URL)
    assert (one["allowed_email_domains"], two["allowed_email_domains"]) == (["example.com", "example.org"],
                                                                            ["school.example"])


# --- at sign-in -----------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_an_email_in_an_allowed_domain_signs_in(domains):
    signed_in(domains, "carol")
    signed_in(domains, "frank")  # Frank@Example.com


@pytest.mark.django_db
def test_an_email_elsewhere_is_refused_and_nothing_is_written(domains, caplog):
    caplog.set_level(logging.INFO)
    sentence = refused(domains, "carol", email="carol@elsewhere.org", groups=["romm-viewers", "kids"])
    assert ELSEWHERE in sentence and "(elsewhere.org)" in sentence and "OIDC_ALLOWED_EMAIL_DOMAINS" in sentence
    assert User.objects.count() == Identity.objects.count() == Group.objects.count() == 0
    assert Session.objects.signed_in().count() == 0
    assert [(e.outcome, e.reason) for e in SignInEvent.objects.all()] == [("refused", "email_domain")]
    lines = [r for r in caplog.records if r.name.startswith("accounts")]
    assert [r.getMessage().split(" provider=")[0] for r in lines] == ["OIDC sign-in refused: reason=email_domain"]
    assert "carol@" not in lines[0].getMessage()  # the domain is logged, not the address


@pytest.mark.django_db
def test_a_linked_account_whose_email_moved_elsewhere_is_refused_and_unchanged(domains):
    signed_in(domains, "carol", groups=["romm-viewers", "kids"])
    carol = User.objects.get(username="carol")
    sentence = refused(domains, "carol", email="carol@elsewhere.org", groups=["romm-admins"])
    assert ELSEWHERE in sentence
    after = User.objects.get(username="carol")
    assert (after.role, after.last_login) == ("viewer", carol.last_login)
    assert sorted(after.groups.values_list("name", flat=True)) == ["kids", "romm-viewers"]
    assert Identity.objects.get().email == "carol@example.com"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "claims",
    [
        {"email": ...},
        {"email": ""},
        {"email": "not-an-address"},
        {"email": "carol@example.com@evil.org"},
        {"email": ["carol@example.com"]},
        {"email_verified": False},
        {"email_verified": "false"},
    ],
    ids=["missing", "empty", "malformed", "two-ats", "a-list", "unverified", "unverified-string"],
)
def test_no_usable_verified_email_is_refused_when_domains_are_set(domains, claims, caplog):
    caplog.set_level(logging.INFO)
    sentence = refused(domains, "carol", **claims)
    assert UNPROVEN in sentence and "OIDC_ALLOWED_EMAIL_DOMAINS" in sentence
    assert User.objects.count() == 0 and Group.objects.count() == 0
    assert len([r for r in caplog.records if r.name.startswith("accounts")]) == 1


@pytest.mark.django_db
def test_an_unverified_email_refuses_even_an_account_already_linked(domains):
    """Without the rule, a linked identity signs in whatever its email state; with it, fail closed."""
    signed_in(domains, "carol")
    assert UNPROVEN in refused(domains, "carol", email_verified=False)


@pytest.mark.django_db
def test_without_the_setting_any_domain_signs_in(idp):
    signed_in(idp, "carol", email="carol@elsewhere.org")


@pytest.mark.django_db
def test_linking_an_identity_from_another_domain_from_the_profile_is_refused(domains):
    browser = signed_in(domains, "carol")
    start = browser.post(f"/profile/link/{domains.profile}")
    callback = domains.authorize(start["Location"], "bob", email="bob@elsewhere.org")
    response = browser.get(callback.replace(BASE_URL, ""))
    assert ELSEWHERE in " ".join(messages_of(browser.get(response["Location"])))
    assert Identity.objects.count() == 1


# --- at the recheck ------------------------------------------------------------------------------------
@pytest.fixture
def rechecked(domains, settings):
    configure(settings, domains, OIDC_ALLOWED_EMAIL_DOMAINS="example.com", OIDC_GROUPS="romm-*,kids",
              OIDC_SESSION_RECHECK_SECONDS=str(INTERVAL))
    return domains


def later(seconds):
    return time_machine.travel(time.time() + seconds, tick=True)


@pytest.mark.django_db
@pytest.mark.parametrize("change", [{"email": "carol@elsewhere.org"}, {"email_verified": False}],
                         ids=["moved", "unverified"])
def test_the_session_recheck_ends_a_session_whose_email_is_no_longer_accepted(rechecked, change):
    browser = signed_in(rechecked, "carol", groups=["romm-viewers", "kids"])
    raw, _ = tokens.create(User.objects.get(username="carol"), "script", ["me.read"], None)
    rechecked.change("carol", groups=["romm-admins"], **change)
    with later(INTERVAL + 1):
        response = browser.get("/")
        assert response["Location"] == "/login?local=1"
        assert ENDED in " ".join(messages_of(browser.get(response["Location"])))
    carol = User.objects.get(username="carol")
    assert carol.role == "viewer" and sorted(carol.groups.values_list("name", flat=True)) == ["kids", "romm-viewers"]
    ended = SignInEvent.objects.filter(reason="recheck_email_domain", outcome="refused")
    assert sorted(ended.values_list("method", flat=True)) == ["app_token", "oidc"]  # the session, the tokens
    assert ClientToken.objects.get().revoked  # groups or email that end the session end the app tokens too


@pytest.mark.django_db
def test_an_app_token_recheck_revokes_the_tokens_of_an_email_no_longer_accepted(rechecked):
    browser = signed_in(rechecked, "carol")
    raw, _ = tokens.create(User.objects.get(username="carol"), "script", ["me.read"], None)
    browser.post("/logout")
    rechecked.change("carol", email="carol@elsewhere.org")
    with later(INTERVAL + 1):
        response = Client().get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401 and "your app tokens here have been revoked" in response.json()["detail"]
    assert ENDED.split(" in a")[0] in response.json()["detail"]
    assert ClientToken.objects.get().revoked
    assert Client().get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


# --- the start-up check ----------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["@example.com", "*.example.com", "example.com,https://example.org"])
def test_an_entry_that_is_not_a_domain_stops_start_up(settings, value):
    found = problems(settings, OIDC_ALLOWED_EMAIL_DOMAINS=value)
    assert set(found) == {"accounts.E053"} and "is not a domain name" in found["accounts.E053"].msg
    assert "example.com,example.org" in found["accounts.E053"].hint


def test_good_domains_pass_the_check(settings):
    assert problems(settings, OIDC_ALLOWED_EMAIL_DOMAINS="example.com, Bücher.example., xn--bcher-kva.example") == {}
