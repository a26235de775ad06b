"""Attacks on the sign-in the relying party must refuse, seen from the victim's chair.

Every refused attack is checked the same way (``assert_refused``): the callback sends the
browser to ``/login``, that page shows the sentence naming the cause, nothing changed in the
database (accounts, roles, identities, OIDC sessions), nobody is signed in, and the operator's
log got exactly one ``OIDC sign-in refused: reason=<code>`` WARNING line that carries neither a
token, nor the code, nor the client secret. A crash is never an acceptable refusal: the test
client is told not to re-raise, so a 500 fails the assertion as a 500.
"""

import hashlib
import hmac
import json
import logging
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from django.contrib.auth.models import Group
from django.test import Client

from accounts.models import Identity, Role, Session, SignInEvent, User
from accounts.oidc.discovery import JWKS_REFETCH_SECONDS
from tests.accounts.oidc.forgery import b64, b64json, compact, forge, hmac_signer, key_signer, public_pem
from tests.conftest import BASE_URL, configure, sign_in, start
from tests.fakeidp import BACKCHANNEL_EVENT, FakeProvider, ec_key, public_jwk, rsa_key

pytestmark = [
    pytest.mark.django_db,
    # The fake's client secret is shorter than RFC 7518 recommends; that is not under test here.
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]

INVALID_TOKEN = "did not pass validation"
ALREADY_USED = "already used"


# --- what the victim and the operator see ---------------------------------------------------
def snapshot():
    return (
        sorted(User.objects.values_list("username", "email", "role", "is_active", "is_staff", "is_superuser")),
        sorted(Identity.objects.values_list("issuer", "subject", "user__username", "email")),
        Session.objects.signed_in().count(),
        SignInEvent.objects.filter(outcome=SignInEvent.Outcome.SUCCESS).count(),
    )


def watch(fake):
    """Remember every ID token the fake hands out, so the log can be searched for them."""
    fake.issued = []
    original = fake.id_token

    def recording(grant):
        token = original(grant)
        fake.issued.append(token)
        return token

    fake.id_token = recording
    return fake


def credentials(fake):
    """Everything that must never reach a log line: tokens, codes, the client secret."""
    values = [fake.client_secret]
    for token in getattr(fake, "issued", []):
        values.append(token)
        values.extend(part for part in token.split(".")[1:] if len(part) > 16)
    values += [key[3:] for key in fake.codes if key.startswith("at:")]
    for request in fake.requests_to("token_endpoint"):
        values += parse_qs(request.text or "").get("code", [])
    return [value for value in values if value]


def refusal_lines(caplog):
    return [r for r in caplog.records if r.getMessage().startswith("OIDC sign-in refused")]


def assert_refused(client, fake, response, caplog, reason, sentence, before):
    """The whole victim-visible contract of a refusal (see the module docstring)."""
    assert response.status_code == 302, f"expected a redirect to /login, got HTTP {response.status_code}"
    assert response["Location"].startswith("/login"), response["Location"]
    page = client.get(response["Location"], follow=True)
    assert page.status_code == 200
    html = page.content.decode()
    assert sentence in html, html
    assert snapshot() == before
    assert "_auth_user_id" not in client.session, "the browser is signed in"
    lines = refusal_lines(caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    line = lines[0].getMessage()
    assert lines[0].levelno == logging.WARNING
    reasons = (reason,) if isinstance(reason, str) else reason
    assert any(f"reason={r} " in line + " " for r in reasons), line
    assert "\n" not in line and "\r" not in line, line
    stored = " ".join(SignInEvent.objects.values_list("detail", flat=True))
    for secret in credentials(fake):
        assert secret not in caplog.text, "a credential reached the log"
        assert secret not in stored, "a credential reached the sign-in history"
    return html


@pytest.fixture
def client():
    # A crash must show up as the 500 the victim would see, not as a re-raised exception.
    return Client(raise_request_exception=False)


@pytest.fixture
def victim(idp, caplog):
    """carol has an account here, a viewer linked to her identity at the provider (as after
    a first sign-in); the attacks below try to sign in as her and make her an admin."""
    watch(idp)
    caplog.set_level(logging.WARNING, logger="accounts")
    carol = User.objects.create_user("carol", email="carol@example.com", role=Role.VIEWER)
    Identity.objects.create(user=carol, issuer=idp.issuer, subject=idp.subject("carol"), provider=idp.profile)
    return idp


def attack(client, fake, **claim_changes):
    """carol signs in again while the attacker's changes apply; she asks for the admin group."""
    return sign_in(client, fake, "carol", **{"groups": ["romm-admins"], **claim_changes})


# --- the ID token: signature, key, algorithm ------------------------------------------------
def now():
    return int(time.time())


def alg_none(fake):
    fake.sign = forge("none")


def alg_none_advertised(fake):
    fake.metadata["id_token_signing_alg_values_supported"] = ["RS256", "none"]
    fake.sign = forge("none")


def alg_none_capitalised(fake):
    fake.sign = forge("None")


def hs256_with_public_pem(fake):
    fake.sign = forge("HS256", hmac_signer(public_pem(fake.key)))


def hs256_with_public_pem_when_hs256_advertised(fake):
    fake.metadata["id_token_signing_alg_values_supported"] = ["RS256", "HS256"]
    fake.sign = forge("HS256", hmac_signer(public_pem(fake.key)))


def hs256_with_client_secret_not_advertised(fake):
    fake.sign = forge("HS256", hmac_signer(fake.client_secret.encode()))


def other_key_same_kid(fake):
    fake.sign = forge("RS256", key_signer("RS256", rsa_key(1)))


def tampered_payload(fake):
    def sign(claims, header):
        token = jwt.encode(claims, fake.key, algorithm="RS256", headers=header)
        head, _, signature = token.split(".")
        return f"{head}.{b64json(dict(claims, sub='someone-else'))}.{signature}"

    fake.sign = sign


def signature_stripped(fake):
    fake.sign = lambda claims, header: jwt.encode(claims, fake.key, algorithm="RS256", headers=header).rsplit(".", 1)[0] + "."


def unknown_kid(fake):
    fake.sign = forge("RS256", key_signer("RS256", rsa_key(1)), kid="attacker-key")


def no_kid_ambiguous_jwks(fake):
    fake.extra_keys = [(rsa_key(1), "key-2", "RS256")]
    fake.sign = lambda claims, header: compact({"alg": "RS256", "typ": "JWT"}, claims, key_signer("RS256", rsa_key(1)))


def embedded_jwk_and_jku(fake):
    # CVE-2018-0114 style: the token brings its own key and a URL of the attacker's JWKS.
    attacker = public_jwk(rsa_key(1), "attacker-key", "RS256")
    fake.sign = forge(
        "RS256", key_signer("RS256", rsa_key(1)), kid="attacker-key", jwk=attacker,
        jku="https://evil.example/jwks.json", x5u="https://evil.example/cert.pem",
    )


def ec_key_under_rs256(fake):
    fake.extra_keys = [(ec_key(), "ec-1", "ES256")]
    fake.sign = forge("RS256", key_signer("ES256", ec_key()), kid="ec-1")


def es256_with_rsa_jwk(fake):
    fake.metadata["id_token_signing_alg_values_supported"] = ["RS256", "ES256"]
    fake.sign = forge("ES256", key_signer("ES256", ec_key()), kid=fake.kid)


def ps256_not_advertised(fake):
    fake.sign = forge("PS256", key_signer("PS256", fake.key))


def unknown_critical_header(fake):
    fake.sign = forge("RS256", key_signer("RS256", fake.key), kid=fake.kid, crit=["urn:example:must-know"])


def not_a_jwt(fake):
    fake.sign = lambda claims, header: "not-a-jwt"


def five_segments_jwe(fake):
    fake.sign = lambda claims, header: ".".join([b64json({"alg": "RSA-OAEP", "enc": "A256GCM"}), "a", "b", "c", "d"])


def header_not_an_object(fake):
    fake.sign = lambda claims, header: f"{b64json(['RS256'])}.{b64json(claims)}.{b64(b'x')}"


# --- the ID token: claims -------------------------------------------------------------------
def claim(**changes):
    def setup(fake):
        fake.id_token_changes.update({k: (v() if callable(v) else v) for k, v in changes.items()})
        # Signed properly, but without PyJWT's encoder, which refuses ill-typed claims.
        fake.sign = forge("RS256", key_signer("RS256", fake.key))

    return setup


def iss_trailing_slash_toggled(fake):
    issuer = fake.issuer
    fake.id_token_changes["iss"] = issuer.rstrip("/") if issuer.endswith("/") else issuer + "/"


def iss_other_authentik_app(fake):
    fake.id_token_changes["iss"] = "https://auth.example.com/application/o/other-app/"


def logout_token_as_id_token(fake):
    def sign(claims, header):
        logout = {k: claims[k] for k in ("iss", "aud", "iat", "exp", "sub", "sid", "nonce")}
        logout.update(jti="jti-1", events={BACKCHANNEL_EVENT: {}})
        return jwt.encode(logout, fake.key, algorithm="RS256", headers={**header, "typ": "logout+jwt"})

    fake.sign = sign


# Signature, key, algorithm, times, subject, nonce, token type: nothing here depends on the
# provider's profile, so these run against one (Authentik, whose HS256-with-the-client-secret
# mode makes key confusion realistic). Issuer and audience forms differ: those run against both.
TOKEN_ATTACKS = {
    "alg_none": alg_none,
    "alg_none_even_if_advertised": alg_none_advertised,
    "alg_None_capitalised": alg_none_capitalised,
    "hs256_keyed_with_rsa_public_pem": hs256_with_public_pem,
    "hs256_keyed_with_rsa_public_pem_hs256_advertised": hs256_with_public_pem_when_hs256_advertised,
    "hs256_client_secret_not_advertised": hs256_with_client_secret_not_advertised,
    "other_key_same_kid": other_key_same_kid,
    "tampered_payload": tampered_payload,
    "signature_stripped": signature_stripped,
    "unknown_kid": unknown_kid,
    "no_kid_ambiguous_jwks": no_kid_ambiguous_jwks,
    "embedded_jwk_and_jku_headers": embedded_jwk_and_jku,
    "ec_key_under_rs256": ec_key_under_rs256,
    "es256_with_rsa_jwk": es256_with_rsa_jwk,
    "ps256_not_advertised": ps256_not_advertised,
    "unknown_critical_header": unknown_critical_header,
    "not_a_jwt": not_a_jwt,
    "jwe_five_segments": five_segments_jwe,
    "header_not_an_object": header_not_an_object,
    # time
    "exp_beyond_leeway": claim(exp=lambda: now() - 200, iat=lambda: now() - 600),
    "exp_missing": claim(exp=...),
    "exp_not_a_number": claim(exp="tomorrow"),
    "iat_in_the_future": claim(iat=lambda: now() + 3600, exp=lambda: now() + 7200),
    "iat_missing": claim(iat=...),
    "iat_not_a_number": claim(iat="now"),
    "nbf_in_the_future": claim(nbf=lambda: now() + 3600),
    # subject
    "sub_missing": claim(sub=...),
    "sub_integer": claim(sub=12345),
    "sub_list": claim(sub=["carol"]),
    "sub_object": claim(sub={"id": "carol"}),
    "sub_null": claim(sub=None),
    "sub_empty": claim(sub=""),
    "sub_too_long": claim(sub="x" * 256),
    # nonce
    "nonce_missing": claim(nonce=...),
    "nonce_wrong": claim(nonce="n" * 43),
    "nonce_number": claim(nonce=12345),
    "nonce_non_ascii": claim(nonce="n\u00f6nce-\u00fc\u00e9-of-the-attacker"),
    # other kinds of token
    "typ_logout_jwt": lambda fake: fake.header_changes.update(typ="logout+jwt"),
    "typ_at_jwt": lambda fake: fake.header_changes.update(typ="at+jwt"),
    "logout_token_as_id_token": logout_token_as_id_token,
}

ISSUER_AUDIENCE_ATTACKS = {
    # issuer
    "iss_wrong": claim(iss="https://evil.example.com/"),
    "iss_trailing_slash_toggled": iss_trailing_slash_toggled,
    "iss_other_authentik_app": iss_other_authentik_app,
    "iss_missing": claim(iss=...),
    "iss_list": claim(iss=lambda: ["https://auth.example.com/application/o/romm/", "https://auth.example.org"]),
    # audience and authorized party
    "aud_wrong": claim(aud="other-client"),
    "aud_wrong_list": claim(aud=["other-client"]),
    "aud_extra_untrusted": claim(aud=["romm", "other-client"]),
    "aud_extra_untrusted_with_azp": claim(aud=["romm", "other-client"], azp="romm"),
    "aud_missing": claim(aud=...),
    "aud_not_a_string": claim(aud=42),
    "azp_differs": claim(azp="other-client"),
}


@pytest.mark.parametrize("idp", ["authentik"], indirect=True)
@pytest.mark.parametrize("case", TOKEN_ATTACKS)
def test_forged_or_invalid_id_token_is_refused(case, client, victim, caplog):
    TOKEN_ATTACKS[case](victim)
    before = snapshot()
    response = attack(client, victim)
    assert_refused(client, victim, response, caplog, "invalid_token", INVALID_TOKEN, before)


@pytest.mark.parametrize("case", ISSUER_AUDIENCE_ATTACKS)
def test_id_token_for_another_issuer_or_audience_is_refused(case, client, victim, caplog):
    ISSUER_AUDIENCE_ATTACKS[case](victim)
    before = snapshot()
    response = attack(client, victim)
    assert_refused(client, victim, response, caplog, "invalid_token", INVALID_TOKEN, before)


def test_embedded_key_urls_are_never_fetched(client, victim, caplog):
    embedded_jwk_and_jku(victim)
    attack(client, victim)
    assert not [r for r in victim.mocker.request_history if "evil.example" in r.url]


@pytest.mark.parametrize("skew", [-30, 30])
def test_small_clock_skew_is_tolerated(skew, client, victim):
    # Leeway works both ways: a token just expired, or issued a little in "our" future.
    if skew < 0:
        victim.id_token_changes.update(exp=now() + skew)
    else:
        victim.id_token_changes.update(iat=now() + skew)
    assert sign_in(client, victim, "carol")["Location"] == "/"


# --- Authentik without a signing key: HS256 keyed with the client secret ----------------------
@pytest.fixture
def keyless_authentik(requests_mock, settings, caplog):
    fake = watch(FakeProvider(requests_mock, "authentik", algs=("HS256",)))
    configure(settings, fake)
    fake.sign = forge("HS256", hmac_signer(fake.client_secret.encode()))
    caplog.set_level(logging.WARNING, logger="accounts")
    return fake


@pytest.mark.parametrize("jwks", [{"keys": []}, {}])
def test_hs256_with_client_secret_works_when_advertised_and_jwks_empty(jwks, client, keyless_authentik, requests_mock):
    requests_mock.get(keyless_authentik.metadata["jwks_uri"], json=jwks)
    response = sign_in(client, keyless_authentik, "carol")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/api/users/me").json()["username"] == "carol"
    assert Identity.objects.get().subject == keyless_authentik.subject("carol")


KEYLESS_ATTACKS = {
    "other_secret": lambda fake: setattr(fake, "sign", forge("HS256", hmac_signer(b"guessed-secret" * 3))),
    "rsa_public_pem": lambda fake: setattr(fake, "sign", forge("HS256", hmac_signer(public_pem(fake.key)))),
    "alg_none": alg_none,
    "hs512_not_advertised": lambda fake: setattr(
        fake, "sign", forge("HS512", lambda m: hmac.new(fake.client_secret.encode(), m, hashlib.sha512).digest())
    ),
    # Signed with a real key of the provider, but the provider advertises only HS256.
    "rs256_not_advertised": lambda fake: setattr(fake, "sign", None),
}


@pytest.mark.parametrize("case", KEYLESS_ATTACKS)
def test_keyless_authentik_refuses_other_signatures(case, client, keyless_authentik, requests_mock, caplog):
    requests_mock.get(keyless_authentik.metadata["jwks_uri"], json={"keys": []})
    KEYLESS_ATTACKS[case](keyless_authentik)
    before = snapshot()
    response = sign_in(client, keyless_authentik, "carol")
    assert_refused(client, keyless_authentik, response, caplog, "invalid_token", INVALID_TOKEN, before)


# --- the JWKS cache: unknown key ids, rotation -----------------------------------------------
@pytest.fixture
def clock(monkeypatch):
    """Holds this site's clock (and the cache's) still at the start of a JWKS refetch window, and
    moves it only when told; PyJWT keeps the real one."""
    real = time.time
    start = (real() // JWKS_REFETCH_SECONDS + 1) * JWKS_REFETCH_SECONDS + 0.1

    class Clock:
        offset = 0.0

        def advance(self, seconds):
            self.offset += seconds

    clock = Clock()
    clock.real = real
    monkeypatch.setattr(time, "time", lambda: start + clock.offset)
    return clock


def pin_token_times_to_real_clock(fake, clock):
    # The fake reads time.time() too; ID token times must stay real for PyJWT's exp/iat checks.
    fake.id_token_changes.update(iat=int(clock.real()), exp=int(clock.real()) + 300)


def test_a_burst_of_unknown_key_ids_refetches_the_jwks_once_per_window(client, victim, clock, caplog):
    pin_token_times_to_real_clock(victim, clock)
    jwks_calls = lambda: len(victim.requests_to("jwks_uri"))  # noqa: E731
    assert sign_in(client, victim, "carol")["Location"] == "/"
    client.logout()
    assert jwks_calls() == 1
    unknown_kid(victim)
    before = snapshot()

    def burst(times):
        for _ in range(times):
            caplog.clear()
            response = attack(client, victim)
            assert_refused(client, victim, response, caplog, "invalid_token", INVALID_TOKEN, before)

    clock.advance(1)
    burst(50)  # one refetch for the whole burst, never one per request
    assert jwks_calls() == 2
    clock.advance(JWKS_REFETCH_SECONDS + 0.5)
    burst(10)  # the next window allows one more
    assert jwks_calls() == 3


def test_a_key_rotated_right_after_a_fetch_is_accepted_at_once(client, victim, clock, caplog):
    pin_token_times_to_real_clock(victim, clock)
    assert sign_in(client, victim, "carol")["Location"] == "/"
    client.logout()
    # One second after the site fetched the JWKS, the provider rotates: only key-2 is published.
    clock.advance(1)
    victim.key, victim.kid = rsa_key(1), "key-2"
    assert sign_in(client, victim, "carol")["Location"] == "/"
    assert len(victim.requests_to("jwks_uri")) == 2
    client.logout()
    # The refreshed JWKS serves the next sign-ins without another fetch.
    assert sign_in(client, victim, "carol")["Location"] == "/"
    assert len(victim.requests_to("jwks_uri")) == 2


def test_retired_key_is_refused_after_the_jwks_is_refreshed(client, victim, clock, caplog):
    pin_token_times_to_real_clock(victim, clock)
    assert sign_in(client, victim, "carol")["Location"] == "/"
    client.logout()
    old_key, old_kid = victim.key, victim.kid
    victim.key, victim.kid = rsa_key(1), "key-2"
    clock.advance(1)
    assert sign_in(client, victim, "carol")["Location"] == "/"
    client.logout()
    caplog.clear()
    # A token under the retired key (say, stolen signing material) no longer verifies.
    victim.sign = forge("RS256", key_signer("RS256", old_key), kid=old_kid)
    before = snapshot()
    assert_refused(client, victim, attack(client, victim), caplog, "invalid_token", INVALID_TOKEN, before)


# JSON nested deeper than Python's parser recurses: RecursionError, not ValueError.
DEEP_JSON = "[" * 100_000 + "]" * 100_000

JWKS_ANSWERS = {
    "keys_not_a_list": ({"json": {"keys": 5}}, ("invalid_token", "bad_response"), None),
    "not_json": ({"text": "<html>maintenance</html>"}, "bad_response", "cannot read"),
    "json_list": ({"json": [1, 2]}, "bad_response", "cannot read"),
    "json_nested_too_deep": ({"text": DEEP_JSON}, "bad_response", "cannot read"),
    # Deeper than any protocol answer (MAX_JSON_DEPTH): what reads it later (json.dumps of a key)
    # could run out of recursion, short of what the parser itself refuses.
    "key_nested_deep": (
        {"text": '{"keys": [' + json.dumps({**public_jwk(rsa_key(0), "key-1", "RS256")})[:-1]
         + ', "x5c_extra": ' + "[" * 40 + "]" * 40 + "}]}"},
        "bad_response", "cannot read",
    ),
    "server_error": ({"status_code": 500, "text": "oops"}, "provider_unreachable", "could not be reached"),
    "only_an_encryption_key": (
        {"json": {"keys": [{**public_jwk(rsa_key(0), "key-1", "RS256"), "use": "enc"}]}},
        "invalid_token", INVALID_TOKEN,
    ),
    "key_for_another_alg": (
        {"json": {"keys": [{**public_jwk(rsa_key(0), "key-1", "RS256"), "alg": "PS256"}]}},
        "invalid_token", INVALID_TOKEN,
    ),
    "broken_key_material": (
        {"json": {"keys": [{**public_jwk(rsa_key(0), "key-1", "RS256"), "n": "!!"}]}},
        "invalid_token", INVALID_TOKEN,
    ),
}


@pytest.mark.parametrize("idp", ["authelia"], indirect=True)
@pytest.mark.parametrize("case", JWKS_ANSWERS)
def test_broken_jwks_is_a_refusal_not_a_crash(case, client, idp, requests_mock, caplog):
    answer, reason, sentence = JWKS_ANSWERS[case]
    watch(idp)
    caplog.set_level(logging.WARNING, logger="accounts")
    requests_mock.get(idp.metadata["jwks_uri"], **answer)
    before = snapshot()
    response = sign_in(client, idp, "carol")
    assert_refused(client, idp, response, caplog, reason, sentence or "", before)


# --- replay and login CSRF -----------------------------------------------------------------
def callback_of(fake, location, person="carol", **changes):
    return fake.authorize(location, person, **changes).replace(BASE_URL, "")


def test_replayed_callback_after_sign_out_is_refused_as_already_used(client, victim, caplog):
    callback = callback_of(victim, start(client))
    assert client.get(callback)["Location"] == "/"
    client.logout()
    caplog.clear()
    before = snapshot()
    response = client.get(callback)
    assert_refused(client, victim, response, caplog, "state_unknown", ALREADY_USED, before)
    assert len(victim.requests_to("token_endpoint")) == 1  # the code was not sent again


def test_callback_replayed_after_a_refusal_is_refused_as_already_used(client, victim, caplog):
    callback = callback_of(victim, start(client))
    victim.token_error = (500, {"error": "server_error"})
    before = snapshot()
    assert_refused(client, victim, client.get(callback), caplog, "provider_unreachable", "could not be reached", before)
    victim.token_error = None
    caplog.clear()
    # The provider is back, but the state was used up by the failed attempt.
    assert_refused(client, victim, client.get(callback), caplog, "state_unknown", ALREADY_USED, before)
    assert len(victim.requests_to("token_endpoint")) == 1


def test_concurrent_replay_from_a_copied_session_is_refused(client, victim, caplog):
    """Two requests that both still carry the flow (two workers, one copied cookie)."""
    callback = callback_of(victim, start(client))
    twin = Client(raise_request_exception=False)
    for name, cookie in client.cookies.items():
        twin.cookies[name] = cookie.value
    assert client.get(callback)["Location"] == "/"
    caplog.clear()
    before = snapshot()
    response = twin.get(callback)
    assert_refused(twin, victim, response, caplog, "state_unknown", ALREADY_USED, before)
    assert len(victim.requests_to("token_endpoint")) == 1


def test_stolen_code_injected_into_the_attackers_flow_is_refused_by_pkce(client, victim, caplog):
    # The victim's callback URL leaks (referrer, log); the attacker keeps the code but must use
    # a state of their own browser, whose PKCE verifier does not match the victim's challenge.
    victim_code = parse_qs(urlsplit(callback_of(victim, start(Client()), "carol")).query)["code"][0]
    attacker = Client(raise_request_exception=False)
    own = urlsplit(callback_of(victim, start(attacker), "bob"))
    query = parse_qs(own.query)
    injected = f"{own.path}?{urlencode({'code': victim_code, 'state': query['state'][0], **({'iss': query['iss'][0]} if 'iss' in query else {})})}"
    before = snapshot()
    response = attacker.get(injected)
    assert_refused(attacker, victim, response, caplog, "code_rejected", ALREADY_USED, before)


@pytest.mark.parametrize("victim_state", ["anonymous", "own_flow_in_progress", "signed_in"])
def test_login_csrf_attackers_callback_in_victims_browser(victim_state, victim, caplog):
    """The attacker signs in as bob at the provider, stops before the callback, and makes the
    victim's browser open it: the victim must not end up signed in as bob."""
    attacker = Client(raise_request_exception=False)
    attackers_callback = callback_of(victim, start(attacker), "bob")
    browser = Client(raise_request_exception=False)
    if victim_state == "own_flow_in_progress":
        start(browser)
    if victim_state == "signed_in":
        assert sign_in(browser, victim, "carol")["Location"] == "/"
    caplog.clear()
    tokens_before = len(victim.requests_to("token_endpoint"))
    before = snapshot()
    response = browser.get(attackers_callback)
    assert response.status_code == 302
    if victim_state == "signed_in":
        # A stray callback while signed in goes home quietly, still as carol.
        assert browser.get("/api/users/me").json()["username"] == "carol"
        assert snapshot() == before
    else:
        assert_refused(browser, victim, response, caplog, "state_unknown", "does not belong to this browser", before)
    assert not User.objects.filter(username="bob").exists()
    assert len(victim.requests_to("token_endpoint")) == tokens_before  # bob's code was never redeemed


# --- userinfo ------------------------------------------------------------------------------
def force_userinfo(fake):
    if fake.profile == "authentik":
        fake.id_token_changes["groups"] = ...  # a needed claim missing from the ID token


USERINFO_ATTACKS = {
    "sub_differs": ({"sub": "someone-else"}, None, "userinfo_mismatch", "described two different people"),
    "sub_missing": ({"sub": None}, None, "userinfo_mismatch", "described two different people"),
    "not_json": (None, {"text": "<html>login</html>", "headers": {"Content-Type": "text/html"}}, "bad_response", "cannot read"),
    "json_list": (None, {"json": [{"sub": "x"}]}, "bad_response", "cannot read"),
    "json_nested_too_deep": (None, {"text": DEEP_JSON}, "bad_response", "cannot read"),
    "unauthorized": (None, {"status_code": 401, "json": {"error": "invalid_token"}}, "bad_response", "cannot read"),
    "timeout": (None, {"exc": requests.exceptions.ReadTimeout}, "provider_timeout", "took too long to answer"),
    "unsigned_jwt": (
        None,
        {"text": compact({"alg": "none"}, {"sub": "x"}), "headers": {"Content-Type": "application/jwt"}},
        "invalid_token", INVALID_TOKEN,
    ),
}


@pytest.mark.parametrize("idp", ["authelia"], indirect=True)  # the provider whose claims come from userinfo
@pytest.mark.parametrize("case", USERINFO_ATTACKS)
def test_bad_userinfo_is_refused(case, client, victim, requests_mock, caplog):
    changes, answer, reason, sentence = USERINFO_ATTACKS[case]
    force_userinfo(victim)
    if changes:
        victim.userinfo_changes = changes
    if answer:
        requests_mock.get(victim.metadata["userinfo_endpoint"], **answer)
    before = snapshot()
    response = attack(client, victim)
    assert_refused(client, victim, response, caplog, reason, sentence, before)


def test_userinfo_cannot_override_protocol_claims(client, victim):
    force_userinfo(victim)
    victim.userinfo_changes = {"iss": "https://evil.example.com/", "aud": "other", "nonce": "x"}
    assert sign_in(client, victim, "carol")["Location"] == "/"
    assert Identity.objects.get().issuer == victim.issuer


# --- RFC 9207 and discovery -----------------------------------------------------------------
def with_iss(callback, iss):
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.pop("iss", None)
    if iss is not None:
        query["iss"] = iss
    return f"{parts.path}?{urlencode(query)}"


@pytest.mark.parametrize("iss", ["https://evil.example.com", "missing", "toggled_slash", "other_app"])
def test_authorization_response_iss_must_be_the_providers(iss, client, victim, caplog):
    if victim.profile == "authentik":
        victim.metadata["authorization_response_iss_parameter_supported"] = True
    value = {
        "missing": None,
        "toggled_slash": victim.issuer.rstrip("/") if victim.issuer.endswith("/") else victim.issuer + "/",
        "other_app": "https://auth.example.com/application/o/other-app/",
    }.get(iss, iss)
    callback = with_iss(callback_of(victim, start(client)), value)
    before = snapshot()
    response = client.get(callback)
    assert_refused(client, victim, response, caplog, "mixup", "different sign-in provider", before)
    assert victim.requests_to("token_endpoint") == []  # the code never left this site


def test_wrong_iss_is_refused_even_when_the_provider_does_not_advertise_rfc9207(client, authentik, caplog):
    watch(authentik)
    caplog.set_level(logging.WARNING, logger="accounts")
    callback = with_iss(callback_of(authentik, start(client)), "https://evil.example.com/")
    before = snapshot()
    assert_refused(client, authentik, client.get(callback), caplog, "mixup", "different sign-in provider", before)
    assert authentik.requests_to("token_endpoint") == []


def test_missing_iss_is_fine_when_the_provider_does_not_advertise_rfc9207(client, authentik):
    # Authentik sends no iss; refusing that would lock everybody out.
    assert sign_in(client, authentik, "carol")["Location"] == "/"


DISCOVERY_ATTACKS = {
    "issuer_elsewhere": (lambda fake: {"issuer": "https://evil.example.com/"}, "issuer_mismatch", "identifies itself with a different address"),
    "issuer_on_another_host": (
        lambda fake: {"issuer": fake.issuer.replace("auth.example", "auth2.example")},
        "issuer_mismatch", "identifies itself with a different address",
    ),
    "jwks_uri_over_http": (
        lambda fake: {"jwks_uri": fake.metadata["jwks_uri"].replace("https://", "http://")},
        "discovery_invalid", "configuration document could not be used",
    ),
    "token_endpoint_over_http": (
        lambda fake: {"token_endpoint": fake.metadata["token_endpoint"].replace("https://", "http://")},
        "discovery_invalid", "configuration document could not be used",
    ),
    "token_endpoint_javascript": (
        lambda fake: {"token_endpoint": "javascript:alert(1)"},
        "discovery_invalid", "configuration document could not be used",
    ),
}


@pytest.mark.parametrize("idp", ["authentik"], indirect=True)
@pytest.mark.parametrize("case", DISCOVERY_ATTACKS)
def test_untrustworthy_discovery_document_stops_the_sign_in_at_the_start(case, client, idp, caplog):
    changes, reason, sentence = DISCOVERY_ATTACKS[case]
    watch(idp)
    caplog.set_level(logging.WARNING, logger="accounts")
    idp.metadata.update(changes(idp))
    before = snapshot()
    response = client.get("/api/login/openid")
    assert_refused(client, idp, response, caplog, reason, sentence, before)
    assert idp.requests_to("jwks_uri") == []


# --- the token endpoint ----------------------------------------------------------------------
TOKEN_ENDPOINT_ANSWERS = {
    "invalid_grant": ({"status_code": 400, "json": {"error": "invalid_grant"}}, "code_rejected", ALREADY_USED),
    "invalid_client_401": ({"status_code": 401, "json": {"error": "invalid_client"}}, "client_rejected", "client credentials"),
    "invalid_client_400": ({"status_code": 400, "json": {"error": "invalid_client"}}, "client_rejected", "client credentials"),
    "unauthorized_401_no_body": ({"status_code": 401, "text": ""}, "client_rejected", "client credentials"),
    "server_error_500": ({"status_code": 500, "json": {"error": "server_error"}}, "provider_unreachable", "could not be reached"),
    "bad_gateway_html": ({"status_code": 502, "text": "<html>502</html>"}, "provider_unreachable", "could not be reached"),
    "connect_timeout": ({"exc": requests.exceptions.ConnectTimeout}, "provider_timeout", "took too long to answer"),
    "connection_refused": ({"exc": requests.exceptions.ConnectionError}, "provider_unreachable", "could not be reached"),
    "tls_error": ({"exc": requests.exceptions.SSLError}, "provider_tls", "does not trust"),
    "not_json": ({"text": "<html>hello</html>"}, "bad_response", "cannot read"),
    "json_list": ({"json": ["id_token"]}, "bad_response", "cannot read"),
    "json_nested_too_deep": ({"text": DEEP_JSON}, "bad_response", "cannot read"),
    "error_json_nested_too_deep": ({"status_code": 400, "text": DEEP_JSON}, "token_refused",
                                   "refused to finish the sign-in"),
    "no_id_token": ({"json": {"access_token": "at", "token_type": "Bearer"}}, "bad_response", "cannot read"),
    "id_token_not_a_string": ({"json": {"access_token": "at", "token_type": "Bearer", "id_token": {"a": 1}}}, "bad_response", "cannot read"),
    "token_type_mac": ({"json": {"access_token": "at", "token_type": "mac", "id_token": "x.y.z"}}, "bad_response", "cannot read"),
    "redirect": ({"status_code": 302, "headers": {"Location": "https://evil.example/"}}, "token_refused", "refused to finish the sign-in"),
    "html_error_code": (
        {"status_code": 400, "json": {"error": "<script>alert(1)</script>"}},
        "token_refused", "refused to finish the sign-in",
    ),
}


@pytest.mark.parametrize("idp", ["authentik"], indirect=True)
@pytest.mark.parametrize("case", TOKEN_ENDPOINT_ANSWERS)
def test_token_endpoint_failures_are_explained(case, client, victim, requests_mock, caplog):
    answer, reason, sentence = TOKEN_ENDPOINT_ANSWERS[case]
    requests_mock.post(victim.metadata["token_endpoint"], **answer)
    before = snapshot()
    html = assert_refused(client, victim, attack(client, victim), caplog, reason, sentence, before)
    assert "<script>alert(1)</script>" not in html


def test_token_error_description_cannot_forge_log_lines(client, victim, caplog):
    victim.token_error = (
        400,
        {"error": "invalid_request", "error_description": "bad\nOIDC sign-in refused: reason=forged provider=x\r\nmore"},
    )
    before = snapshot()
    assert_refused(client, victim, attack(client, victim), caplog, "token_refused", "refused to finish the sign-in", before)
    assert "\nOIDC sign-in refused: reason=forged" not in caplog.text


# --- the provider's error answer -------------------------------------------------------------
@pytest.mark.parametrize(
    "error, shown",
    [("access_denied", "(access_denied)"), ("<img src=x onerror=alert(1)>", "(unknown_error)")],
)
def test_provider_error_answer_cannot_inject_html(error, shown, client, victim, caplog):
    location = start(client)
    state = parse_qs(urlsplit(location).query)["state"][0]
    description = "<script>alert(document.cookie)</script>"
    before = snapshot()
    response = client.get(
        "/api/oauth/openid?" + urlencode({"error": error, "error_description": description, "state": state})
    )
    html = assert_refused(client, victim, response, caplog, "provider_denied", "did not complete the sign-in", before)
    assert shown in html
    assert "<img src=x" not in html and "alert(" not in html and "document.cookie" not in html
    assert description not in html and "&lt;script&gt;" not in html  # not even escaped: never shown


# --- linking from the profile: the same token checks, and no link-CSRF ----------------------
def signed_in_without_identity(username="dora"):
    browser = Client(raise_request_exception=False)
    browser.force_login(User.objects.create_user(username, email=f"{username}@example.com"))
    return browser


@pytest.mark.parametrize("idp", ["authentik"], indirect=True)
@pytest.mark.parametrize("case", ["alg_none", "other_key_same_kid", "aud_extra_untrusted", "nonce_wrong"])
def test_forged_token_cannot_link_an_identity_from_the_profile(case, idp, caplog):
    # Linking bob's identity to dora's account would land bob in dora's account from then on.
    setup = {**TOKEN_ATTACKS, **ISSUER_AUDIENCE_ATTACKS}[case]
    watch(idp)
    caplog.set_level(logging.WARNING, logger="accounts")
    browser = signed_in_without_identity()
    setup(idp)
    location = browser.post(f"/profile/link/{idp.profile}")["Location"]
    before = snapshot()
    response = browser.get(callback_of(idp, location, "bob"))
    assert response.status_code == 302 and response["Location"] == "/profile"
    assert INVALID_TOKEN in browser.get("/profile").content.decode()
    assert snapshot() == before and not Identity.objects.exists()
    [line] = refusal_lines(caplog)
    assert "reason=invalid_token " in line.getMessage()


def test_link_csrf_attackers_link_callback_in_a_signed_in_victims_browser(idp):
    attacker = signed_in_without_identity("mallory")
    attackers_callback = callback_of(idp, attacker.post(f"/profile/link/{idp.profile}")["Location"], "bob")
    browser = signed_in_without_identity("dora")
    response = browser.get(attackers_callback)
    assert response.status_code == 302 and not response["Location"].startswith("http")
    assert not Identity.objects.exists()
    assert browser.get("/api/users/me").json()["username"] == "dora"
    assert idp.requests_to("token_endpoint") == []


# --- the way back from the provider's logout -----------------------------------------------
@pytest.mark.parametrize("state", ["\u00e9t\u00e9-forged", "x" * 5000])
def test_forged_state_on_the_way_back_from_provider_logout_is_no_crash(state, client, authentik, settings):
    # After RP-initiated logout the session expects a state; anyone can send the browser back
    # to /login with another one (a link in a mail, the provider's redirect tampered with).
    configure(settings, authentik, OIDC_RP_INITIATED_LOGOUT="true")
    assert sign_in(client, authentik, "carol")["Location"] == "/"
    assert client.post("/logout")["Location"].startswith(authentik.metadata["end_session_endpoint"])
    page = client.get("/login?" + urlencode({"state": state}))
    assert page.status_code == 200
    html = page.content.decode()
    assert "You are signed out here." in html and "and at Authentik" not in html


# --- claims that do not fit ----------------------------------------------------------------
def test_overlong_verified_email_neither_crashes_nor_is_stored_truncated(client, idp, caplog):
    # Valid by Django's validator (<= 320 characters) but longer than the 254 of the email columns:
    # PostgreSQL refuses the INSERT (DataError), SQLite silently keeps it.
    email = "a" * 60 + "@" + ".".join(["b" * 60] * 4) + ".com"
    assert 254 < len(email) <= 320
    response = sign_in(client, idp, "carol", email=email)
    assert response.status_code == 302
    for stored in [*User.objects.values_list("email", flat=True), *Identity.objects.values_list("email", flat=True)]:
        assert len(stored) <= 254, "an email longer than its column was written"
        assert stored == "" or stored == email


# JSON's \\u escapes can spell half of a UTF-16 surrogate pair ("\\ud800"): valid JSON, a Python str,
# but no text: UTF-8 cannot encode it, so SQLite's driver and PostgreSQL (jsonb, varchar) refuse it.
NOT_TEXT = "\ud800"


@pytest.mark.parametrize(
    "person, claims",
    [
        ("carol", {"groups": ["romm-viewers", f"romm-kids{NOT_TEXT}"]}),  # a mirrored group's name
        ("carol", {"groups": ["romm-viewers", f"movie-night{NOT_TEXT}"]}),  # a name no pattern matches
        ("dave", {"given_name": f"Dave{NOT_TEXT}", "groups": ["romm-viewers"]}),  # a new account's name
    ],
    ids=["mirrored-group", "other-group", "given-name"],
)
def test_a_claim_that_is_no_text_is_refused_not_a_crash(person, claims, client, victim, settings, caplog):
    configure(settings, victim, OIDC_GROUPS="romm-*")
    before, groups = snapshot(), Group.objects.count()
    response = sign_in(client, victim, person, **claims)
    assert_refused(client, victim, response, caplog, "bad_response", "cannot read", before)
    assert Group.objects.count() == groups == 0


def test_successful_sign_in_logs_no_credentials(client, idp, caplog):
    # The positive path, for contrast: INFO lines but no token, code or secret.
    watch(idp)
    caplog.set_level(logging.DEBUG, logger="accounts")
    assert sign_in(client, idp, "carol")["Location"] == "/"
    assert User.objects.get(username="carol").role == Role.VIEWER
    for secret in credentials(idp):
        assert secret not in caplog.text
