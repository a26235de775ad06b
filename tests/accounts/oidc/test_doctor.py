"""``manage.py oidc_doctor``: live findings against the fake provider, in words and as JSON."""

import json

import pytest
import requests

from accounts.oidc import discovery
from accounts.oidc.provider import get_provider
from tests.accounts.oidc.doctor import doctor, findings
from tests.conftest import configure
from tests.fakeidp import FakeProvider

pytestmark = pytest.mark.usefixtures("deployed_site")


def test_healthy_authentik_has_no_errors_and_says_what_to_register(authentik):
    status, found = findings()
    assert status == 0
    assert not [f for f in found.values() if f["level"] == "error"]
    assert found["register"]["message"] == (
        "Register this redirect URI at the provider, exactly: http://testserver/api/oauth/openid"
        " ; back-channel Logout URI: http://testserver/api/oauth/backchannel-logout"
    )
    assert found["issuer"]["level"] == "info"
    assert found["pkce"]["level"] == "info"
    assert found["signing"]["message"] == "ID tokens are signed with RS256."
    assert found["auth_method"]["message"].startswith("Token endpoint authentication: client_secret_basic.")
    assert found["claims_id_token"]["level"] == "info"
    assert found["scopes"]["message"] == "Scopes requested: openid email profile."


def test_text_report_is_plain_words_with_fixes(authentik):
    authentik.metadata["issuer"] = "https://auth.internal/application/o/romm/"
    status, out = doctor()
    assert status == 1
    assert "Provider 'authentik' (Authentik), discovery https://auth.example.com/application/o/romm/" in out
    assert "ERROR   The provider calls itself https://auth.internal/application/o/romm/" in out
    assert "fix: Set OIDC_SERVER_APPLICATION_URL=https://auth.internal/application/o/romm/" in out
    assert "1 error(s)" in out and "Traceback" not in out


def test_issuer_mismatch_gives_the_exact_value_to_set(authentik):
    authentik.metadata["issuer"] = "https://auth.example.com/application/o/games/"
    status, found = findings()
    assert status == 1
    fix = found["issuer_mismatch"]["fix"]
    assert fix == "Set OIDC_SERVER_APPLICATION_URL=https://auth.example.com/application/o/games/."


def test_issuer_on_another_host_explains_the_host_header(authentik):
    authentik.metadata["issuer"] = "http://authentik-server:9000/application/o/romm/"
    _, found = findings()
    assert "Authentik builds its issuer from the Host" in found["issuer_mismatch"]["fix"]


def test_doctor_reads_live_state_not_the_cache(authentik):
    provider = get_provider()
    provider.metadata(), discovery.jwks(provider)  # cached by an earlier sign-in
    authentik.metadata["issuer"] = "https://auth.example.com/application/o/other/"
    status, found = findings()
    assert status == 1 and "issuer_mismatch" in found
    assert len(authentik.mocker.request_history) == 4  # discovery and JWKS, each twice


@pytest.mark.parametrize(
    "exc, code, words",
    [
        (requests.exceptions.ConnectionError, "unreachable", "can resolve and reach that host"),
        (requests.exceptions.ConnectTimeout, "timeout", "OIDC_TIMEOUT"),
        (requests.exceptions.SSLError, "tls", "OIDC_TLS_CACERTFILE"),
    ],
)
def test_unreachable_provider_is_a_finding_not_a_traceback(requests_mock, settings, exc, code, words):
    fake = FakeProvider(requests_mock, "authentik")
    configure(settings, fake)
    requests_mock.get(fake.discovery_url, exc=exc)
    status, found = findings()
    assert status == 1
    assert found[code]["level"] == "error"
    assert words in found[code]["fix"]
    assert fake.discovery_url in found[code]["message"]


def test_missing_discovery_document_is_reported(requests_mock, settings):
    fake = FakeProvider(requests_mock, "authelia")
    configure(settings, fake)
    requests_mock.get(fake.discovery_url, status_code=404, text="not found")
    status, found = findings()
    assert status == 1
    assert "answered HTTP 404" in found["discovery_invalid"]["message"]


def test_unusable_discovery_document_is_reported(authentik):
    authentik.metadata["token_endpoint"] = "http://auth.example.com/application/o/token/"
    status, found = findings()
    assert status == 1
    assert "is not an https URL" in found["discovery_invalid"]["message"]


def test_unsupported_token_auth_method_says_which_to_use(requests_mock, settings):
    fake = FakeProvider(requests_mock, "authelia")
    configure(settings, fake, OIDC_TOKEN_ENDPOINT_AUTH_METHOD="client_secret_post")
    status, found = findings()
    assert status == 1
    assert "supports only client_secret_basic" in found["auth_method_unsupported"]["message"]
    assert found["auth_method_unsupported"]["fix"] == "Set OIDC_TOKEN_ENDPOINT_AUTH_METHOD=client_secret_basic."


def test_missing_pkce_s256_is_an_error(authentik):
    authentik.metadata["code_challenge_methods_supported"] = ["plain"]
    status, found = findings()
    assert status == 1 and "but not S256" in found["pkce_s256_missing"]["message"]


def test_unadvertised_pkce_is_a_warning(authentik):
    del authentik.metadata["code_challenge_methods_supported"]
    status, found = findings()
    assert status == 0 and found["pkce_not_advertised"]["level"] == "warning"


def test_hs256_means_select_a_signing_key_in_authentik(authentik):
    authentik.metadata["id_token_signing_alg_values_supported"] = ["HS256"]
    authentik.jwks = lambda: {}
    status, found = findings()
    assert status == 0
    assert found["signing_hs256"]["level"] == "warning"
    assert "Signing Key: select one" in found["signing_hs256"]["fix"]
    assert "jwks_empty" not in found


def test_signing_key_missing_from_jwks_is_an_error(authentik):
    authentik.jwks = lambda: {"keys": []}
    status, found = findings()
    assert status == 1 and "has no matching signing key" in found["jwks_empty"]["message"]


def test_unreachable_jwks_is_an_error(requests_mock, authentik):
    requests_mock.get(authentik.metadata["jwks_uri"], status_code=502)
    status, found = findings()
    assert status == 1 and "HTTP 502" in found["jwks_unreachable"]["message"]


def test_unsupported_signing_algorithm_is_an_error(authentik):
    authentik.metadata["id_token_signing_alg_values_supported"] = ["RSA-OAEP"]
    status, found = findings()
    assert status == 1 and "none of which this site accepts" in found["signing_unsupported"]["message"]


def test_authentik_email_verified_default_is_explained_with_the_scope_mapping(authentik):
    _, found = findings()
    finding = found["email_verified"]
    assert finding["level"] == "warning"
    assert "2025.10" in finding["message"] and "refused" in finding["message"]
    assert '"email_verified": True' in finding["fix"] and "Scope Mapping" in finding["fix"]


def test_authelia_claims_come_from_userinfo(authelia):
    status, found = findings()
    assert status == 0
    assert "only from userinfo" in found["claims_userinfo"]["message"]
    assert found["email_verified"]["level"] == "info"
    assert found["scopes"]["message"] == "Scopes requested: openid email profile groups."


def test_authelia_without_userinfo_endpoint_is_an_error(authelia):
    del authelia.metadata["userinfo_endpoint"]
    status, found = findings()
    assert status == 1 and "no userinfo endpoint" in found["userinfo_missing"]["message"]


def test_rp_logout_at_authelia_points_at_the_portal(requests_mock, settings):
    fake = FakeProvider(requests_mock, "authelia")
    configure(settings, fake, OIDC_RP_INITIATED_LOGOUT="true")
    _, found = findings()
    assert found["end_session_missing"]["fix"].startswith(
        "Set OIDC_END_SESSION_ENDPOINT=https://auth.example.org/logout?rd=http://testserver/login "
    )
    assert "post-logout redirect URI: http://testserver/login" in found["register"]["message"]


def test_rp_logout_at_authentik_names_the_end_session_endpoint(requests_mock, settings):
    fake = FakeProvider(requests_mock, "authentik")
    configure(settings, fake, OIDC_RP_INITIATED_LOGOUT="true")
    _, found = findings()
    assert found["end_session"]["message"] == (
        "Logout here also ends the provider session at https://auth.example.com/application/o/romm/end-session/."
    )


def test_end_session_available_but_off_is_mentioned(authentik):
    _, found = findings()
    assert "set OIDC_RP_INITIATED_LOGOUT=true" in found["end_session"]["message"]


def test_roles_claim_the_provider_does_not_list_is_a_warning(requests_mock, settings):
    fake = FakeProvider(requests_mock, "authentik")
    configure(settings, fake, OIDC_CLAIM_ROLES="realm_access.roles")
    _, found = findings()
    assert "does not list a 'realm_access' claim" in found["roles_claim_unlisted"]["message"]


def test_configuration_errors_are_part_of_the_report(authentik, settings):
    settings.ALLOWED_HOSTS = ["elsewhere.example"]
    status, found = findings()
    assert status == 1 and found["accounts.E029"]["level"] == "error"


def test_several_providers_are_each_diagnosed(requests_mock, settings):
    authentik = FakeProvider(requests_mock, "authentik")
    authelia = FakeProvider(requests_mock, "authelia")
    configure(
        settings,
        OIDC_PROVIDERS="authentik,authelia",
        OIDC_AUTHENTIK_PROVIDER="authentik",
        OIDC_AUTHENTIK_SERVER_APPLICATION_URL=authentik.server_url,
        OIDC_AUTHELIA_PROVIDER="authelia",
        OIDC_AUTHELIA_SERVER_APPLICATION_URL=authelia.server_url,
    )
    authelia.metadata["issuer"] = "https://login.example.org"
    status, out = doctor("--json")
    report = json.loads(out)
    assert status == 1 and [p["name"] for p in report["providers"]] == ["authentik", "authelia"]
    codes = [{f["code"] for f in p["findings"]} for p in report["providers"]]
    assert "issuer_mismatch" not in codes[0] and "issuer_mismatch" in codes[1]
    mismatch = next(f for f in report["providers"][1]["findings"] if f["code"] == "issuer_mismatch")
    assert mismatch["fix"].startswith("Set OIDC_AUTHELIA_SERVER_APPLICATION_URL=https://login.example.org.")


def test_oidc_off_has_nothing_to_contact(settings):
    settings.OIDC_ENABLED = False
    status, out = doctor()
    assert status == 0 and "OIDC_ENABLED is not true" in out
    status, out = doctor("--json")
    assert json.loads(out)["providers"] == [] and json.loads(out)["ok"] is True


# --- the claims parameter, and what a sign-in costs at the provider ---------------------------
def test_authelia_with_the_claims_parameter_needs_one_request_per_sign_in(requests_mock, settings):
    fake = FakeProvider(requests_mock, "authelia", claims_parameter="honour")
    configure(settings, fake)
    status, found = findings()
    assert status == 0
    assert found["claims_parameter"]["message"] == (
        "The provider takes the claims parameter: each sign-in asks for email, email_verified, preferred_username, "
        "groups, name in the ID token, and asks userinfo only when the ID token still lacks one of them."
    )
    assert "claims_userinfo" not in found
    assert found["signin_requests"]["message"].startswith("A sign-in makes 1 request to the provider: the token request,")


def test_claims_parameter_turned_off_costs_userinfo_and_says_how_to_save_it(requests_mock, settings):
    fake = FakeProvider(requests_mock, "authelia", claims_parameter="honour")
    configure(settings, fake, OIDC_CLAIMS_PARAMETER="false")
    _, found = findings()
    assert "claims_parameter" not in found and "only from userinfo" in found["claims_userinfo"]["message"]
    requests_finding = found["signin_requests"]
    assert requests_finding["message"].startswith(
        "A sign-in makes 2 requests to the provider: the token request and userinfo "
        "(the claims parameter is not used: OIDC_CLAIMS_PARAMETER=false)."
    )
    assert requests_finding["fix"].startswith("Set OIDC_CLAIMS_PARAMETER=auto (or remove it)")


def test_sign_in_requests_without_the_claims_parameter(idp):
    _, found = findings()
    message = found["signin_requests"]["message"]
    requests_made = "1 request to the provider: the token request" if idp.profile == "authentik" else (
        "2 requests to the provider: the token request and userinfo")
    assert message.startswith(f"A sign-in makes {requests_made} (the claims parameter is not used: the provider "
                              "does not advertise claims_parameter_supported).")
    assert "once per 3600 s (OIDC_CACHE_SECONDS)" in message and found["signin_requests"]["fix"] == ""
