"""Protocol facts about the provider: discovery, client authentication, TLS and timeouts."""

import base64
from urllib.parse import parse_qs

import pytest

from accounts.models import User
from accounts.oidc.provider import get_provider
from tests.conftest import configure, sign_in, start
from tests.fakeidp import CLIENT_ID, CLIENT_SECRET


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["", "/"])
def test_discovery_url_tolerates_trailing_slash(client, authelia, settings, suffix):
    configure(settings, authelia, OIDC_SERVER_APPLICATION_URL=authelia.issuer + suffix)
    assert get_provider().discovery_url == "https://auth.example.org/.well-known/openid-configuration"
    sign_in(client, authelia, "carol")
    assert User.objects.filter(username="carol").exists()


@pytest.mark.django_db
def test_metadata_url_overrides_application_url(client, authentik, settings, requests_mock):
    url = "https://auth.example.com/custom/openid.json"
    requests_mock.get(url, json=authentik.metadata)
    configure(settings, authentik, OIDC_SERVER_APPLICATION_URL=None, OIDC_SERVER_METADATA_URL=url)
    sign_in(client, authentik, "carol")
    assert User.objects.filter(username="carol").exists()
    assert requests_mock.request_history[0].url == url


@pytest.mark.django_db
def test_client_secret_basic_is_form_urlencoded_before_base64(client, authelia):
    sign_in(client, authelia, "carol")
    [token_request] = authelia.requests_to("token_endpoint")
    raw = base64.b64decode(token_request.headers["Authorization"].removeprefix("Basic ")).decode()
    assert raw == "romm:s3cret%2Bwith%2Fodd%3Achars%25-and-32-bytes-long"
    assert "client_secret" not in parse_qs(token_request.text)


@pytest.mark.django_db
def test_client_secret_post_when_provider_supports_only_post(client, authentik):
    authentik.metadata["token_endpoint_auth_methods_supported"] = ["client_secret_post"]
    authentik.auth_methods = ["client_secret_post"]
    sign_in(client, authentik, "carol")
    [token_request] = authentik.requests_to("token_endpoint")
    form = parse_qs(token_request.text)
    assert "Authorization" not in token_request.headers
    assert form["client_id"] == [CLIENT_ID] and form["client_secret"] == [CLIENT_SECRET]


@pytest.mark.django_db
def test_token_auth_method_can_be_forced(client, authentik, settings):
    configure(settings, authentik, OIDC_TOKEN_ENDPOINT_AUTH_METHOD="client_secret_post")
    sign_in(client, authentik, "carol")
    assert "Authorization" not in authentik.requests_to("token_endpoint")[0].headers


@pytest.mark.django_db
def test_pkce_verifier_and_exact_redirect_uri_reach_the_token_endpoint(client, idp):
    sign_in(client, idp, "carol")
    form = parse_qs(idp.requests_to("token_endpoint")[0].text)
    assert form["redirect_uri"] == ["http://testserver/api/oauth/openid"]
    assert len(form["code_verifier"][0]) >= 43


@pytest.mark.django_db
def test_every_provider_call_uses_the_ca_bundle_and_a_timeout(client, idp, settings, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    configure(settings, idp, OIDC_TLS_CACERTFILE=str(bundle))
    sign_in(client, idp, "carol")
    calls = idp.mocker.request_history
    assert len(calls) >= 3
    assert {(c.verify, c.timeout) for c in calls} == {(str(bundle), 10)}


@pytest.mark.django_db
def test_authorization_endpoint_query_is_kept(client, authentik):
    authentik.metadata["authorization_endpoint"] += "?tenant=home"
    location = start(client)
    assert location.startswith("https://auth.example.com/application/o/authorize/?tenant=home&response_type=code")


@pytest.mark.django_db
def test_custom_scopes_always_include_openid(client, authentik, settings):
    configure(settings, authentik, OIDC_SCOPES="email profile groups offline_access")
    query = parse_qs(start(client).split("?", 1)[1])
    assert query["scope"] == ["openid email profile groups offline_access"]


@pytest.mark.django_db
def test_button_labels(settings, authentik):
    for label, text in [("authentik", "Sign in with Authentik"), ("authelia", "Sign in with Authelia"),
                        ("keycloak", "Sign in with Keycloak"), ("", "Sign in with OIDC"),
                        ("PocketID", "Sign in with PocketID")]:
        configure(settings, authentik, OIDC_PROVIDER=label or None)
        assert get_provider().button_text == text


@pytest.mark.django_db
def test_hmac_token_refused_when_provider_publishes_signing_keys(client, authentik):
    import jwt as pyjwt

    authentik.metadata["id_token_signing_alg_values_supported"] = ["RS256", "HS256"]
    authentik.sign = lambda claims, header: pyjwt.encode(claims, CLIENT_SECRET, algorithm="HS256")
    response = sign_in(client, authentik, "carol")
    assert "did not pass validation" in client.get(response["Location"]).content.decode()
    assert not User.objects.exists()


@pytest.mark.django_db
def test_discovery_with_alg_list_as_string_is_refused_not_a_crash(client, authentik):
    authentik.metadata["id_token_signing_alg_values_supported"] = "RS256"
    response = client.get("/api/login/openid")
    assert "configuration document could not be used" in client.get(response["Location"]).content.decode()
