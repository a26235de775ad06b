import requests


def test_authentik_issuer_is_per_application_with_trailing_slash(authentik_idp):
    d = authentik_idp.discovery
    base = authentik_idp.base_url
    assert d["issuer"] == f"{base}/application/o/romm/"
    assert d["authorization_endpoint"] == f"{base}/application/o/authorize/"
    assert d["token_endpoint"] == f"{base}/application/o/token/"
    assert d["userinfo_endpoint"] == f"{base}/application/o/userinfo/"
    assert d["jwks_uri"] == f"{base}/application/o/romm/jwks/"


def test_authentik_advertises_end_session_and_no_iss_parameter(authentik_idp):
    d = authentik_idp.discovery
    assert d["end_session_endpoint"] == f"{authentik_idp.base_url}/application/o/romm/end-session/"
    assert "authorization_response_iss_parameter_supported" not in d
    assert d["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(d["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}
    assert "email_verified" in d["claims_supported"]


def test_authelia_issuer_is_the_root_without_trailing_slash(authelia_idp):
    d = authelia_idp.discovery
    base = authelia_idp.base_url
    assert d["issuer"] == base
    assert d["authorization_endpoint"] == f"{base}/api/oidc/authorization"
    assert d["token_endpoint"] == f"{base}/api/oidc/token"
    assert d["userinfo_endpoint"] == f"{base}/api/oidc/userinfo"
    assert d["jwks_uri"] == f"{base}/jwks.json"


def test_authelia_has_no_end_session_and_sends_iss_parameter(authelia_idp):
    d = authelia_idp.discovery
    assert "end_session_endpoint" not in d
    assert d["authorization_response_iss_parameter_supported"] is True
    assert "groups" in d["scopes_supported"]
    assert d["code_challenge_methods_supported"] == ["S256"]
    assert d["id_token_signing_alg_values_supported"] == ["RS256"]


def test_jwks_has_one_rs256_key_with_a_kid(devidp):
    keys = requests.get(devidp.discovery["jwks_uri"], timeout=5).json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA"
    assert keys[0]["alg"] == "RS256"
    assert keys[0]["kid"]


def test_issuer_follows_the_host_the_request_arrived_on(devidp):
    """Both products build URLs from the Host header, as a site behind another hostname sees."""
    response = requests.get(devidp.discovery_url, headers={"Host": "idp.internal:8443"}, timeout=5)
    assert response.json()["issuer"].startswith("http://idp.internal:8443")
