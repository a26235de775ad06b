"""Deployment system checks (accounts.E020+ / W020+): each mistake, its id and its hint."""

import datetime
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.checks import run_checks

from romm_site.envvars import EnvReader, read_providers

BASE = "https://romm.example.com"
AUTHENTIK = {
    "OIDC_PROVIDER": "authentik",
    "OIDC_CLIENT_ID": "romm",
    "OIDC_CLIENT_SECRET": "secret",
    "OIDC_SERVER_APPLICATION_URL": "https://auth.example.com/application/o/romm/",
}
AUTHELIA = {**AUTHENTIK, "OIDC_PROVIDER": "authelia", "OIDC_SERVER_APPLICATION_URL": "https://auth.example.org"}


def problems(settings, base=BASE, deploy=False, oidc=True, profile=AUTHENTIK, **env):
    """The accounts.* check messages for a site at ``base`` configured with ``env``."""
    parts = urlsplit(base)
    settings.ROMM_BASE_URL = base
    settings.ALLOWED_HOSTS = [parts.hostname]
    settings.CSRF_TRUSTED_ORIGINS = [f"{parts.scheme}://{parts.netloc}"]
    settings.SECRET_KEY = "a-real-secret-key-with-enough-randomness-0123456789abcdef"
    settings.OIDC_ENABLED = oidc
    variables = {k: v for k, v in {**profile, **env}.items() if v is not None}
    settings.OIDC_PROVIDER_CONFIGS = read_providers(EnvReader(variables), base) if oidc else []
    return {m.id: m for m in run_checks(include_deployment_checks=deploy) if m.id.startswith("accounts.")}


@pytest.mark.parametrize("profile", [AUTHENTIK, AUTHELIA], ids=["authentik", "authelia"])
@pytest.mark.parametrize("deploy", [False, True], ids=["check", "check-deploy"])
def test_good_deployment_has_no_problems(settings, profile, deploy):
    assert problems(settings, profile=profile, deploy=deploy) == {}


def test_development_secret_key_is_an_error_in_deployment_checks_only(settings):
    found = problems(settings, deploy=True)
    assert "accounts.E020" not in found
    settings.SECRET_KEY = "django-insecure-development-key-set-SECRET_KEY-in-production"
    found = {m.id: m for m in run_checks(include_deployment_checks=True)}
    assert "SECRET_KEY_FILE" in found["accounts.E020"].hint
    assert "accounts.E020" not in {m.id for m in run_checks()}


def test_redirect_uri_on_another_host_is_reported(settings):
    found = problems(settings, OIDC_REDIRECT_URI="https://games.example.com/api/oauth/openid")
    assert "is not on ROMM_BASE_URL's host" in found["accounts.E021"].msg
    assert found["accounts.E021"].hint.startswith("Use https://romm.example.com/api/oauth/openid")


def test_redirect_uri_on_another_port_is_reported(settings):
    found = problems(settings, OIDC_REDIRECT_URI="https://romm.example.com:8443/api/oauth/openid")
    assert "accounts.E021" in found


def test_http_redirect_uri_for_https_site_is_reported_once(settings):
    found = problems(settings, OIDC_REDIRECT_URI="http://romm.example.com/api/oauth/openid")
    assert set(found) == {"accounts.E022"}
    assert "https://romm.example.com/api/oauth/openid" in found["accounts.E022"].hint


def test_http_site_is_a_warning_in_deployment_checks(settings):
    assert problems(settings, base="http://romm.example.com") == {}
    found = problems(settings, base="http://romm.example.com", deploy=True)
    assert set(found) == {"accounts.W021"}
    assert "TRUST_PROXY_HEADERS=true" in found["accounts.W021"].hint


def test_rp_logout_at_authelia_points_at_the_portal_logout(settings):
    found = problems(settings, profile=AUTHELIA, OIDC_RP_INITIATED_LOGOUT="true")
    assert "no end-session endpoint" in found["accounts.W022"].msg
    assert (
        "OIDC_END_SESSION_ENDPOINT=https://auth.example.org/logout?rd=https://romm.example.com/login"
        in found["accounts.W022"].hint
    )


@pytest.mark.parametrize(
    "env",
    [
        {"OIDC_PROVIDER": "authelia", "OIDC_RP_INITIATED_LOGOUT": "true",
         "OIDC_END_SESSION_ENDPOINT": "https://auth.example.org/logout?rd=https://romm.example.com/login"},
        {"OIDC_PROVIDER": "authelia", "OIDC_RP_INITIATED_LOGOUT": "false"},
        {"OIDC_PROVIDER": "pocket-id", "OIDC_RP_INITIATED_LOGOUT": "true"},
    ],
)
def test_rp_logout_without_authelia_problem_is_not_reported(settings, env):
    assert "accounts.W022" not in problems(settings, profile=AUTHELIA, **env)


# --- the CA bundle -------------------------------------------------------------------------
def _certificate(subject, issuer=None, issuer_key=None):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(issuer_key or key, hashes.SHA256())
    )
    return cert, key


@pytest.fixture(scope="module")
def pki():
    root, root_key = _certificate("Home Root CA")
    leaf, _ = _certificate("auth.example.com", issuer=root.subject, issuer_key=root_key)
    return root, leaf


def test_readable_pem_root_ca_is_fine(settings, tmp_path, pki):
    path = tmp_path / "ca.pem"
    path.write_bytes(pki[0].public_bytes(serialization.Encoding.PEM))
    assert problems(settings, OIDC_TLS_CACERTFILE=str(path)) == {}


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_ca_file_is_reported(settings, tmp_path, kind):
    path = tmp_path / "certs"
    if kind == "directory":
        path.mkdir()
    found = problems(settings, OIDC_TLS_CACERTFILE=str(path))
    assert "cannot be read" in found["accounts.E023"].msg
    assert "not a directory" in found["accounts.E023"].hint


def test_der_ca_file_is_reported_with_the_conversion(settings, tmp_path, pki):
    path = tmp_path / "ca.crt"
    path.write_bytes(pki[0].public_bytes(serialization.Encoding.DER))
    found = problems(settings, OIDC_TLS_CACERTFILE=str(path))
    assert "holds no PEM certificate" in found["accounts.E024"].msg
    assert f"openssl x509 -inform der -in {path} -out ca.pem" in found["accounts.E024"].hint


def test_pkcs7_ca_file_is_reported_with_the_conversion(settings, tmp_path):
    path = tmp_path / "chain.p7b"
    path.write_bytes(b"-----BEGIN PKCS7-----\nMIIB\n-----END PKCS7-----\n")
    found = problems(settings, OIDC_TLS_CACERTFILE=str(path))
    assert "openssl pkcs7 -print_certs" in found["accounts.E024"].hint


def test_ca_bundle_without_a_root_is_a_warning(settings, tmp_path, pki):
    path = tmp_path / "server.pem"
    path.write_bytes(pki[1].public_bytes(serialization.Encoding.PEM))
    found = problems(settings, OIDC_TLS_CACERTFILE=str(path))
    assert set(found) == {"accounts.W024"}
    assert "Append your root CA" in found["accounts.W024"].hint


# --- lock-out --------------------------------------------------------------------------------
def test_password_login_disabled_without_oidc_locks_everyone_out(settings):
    settings.DISABLE_USERPASS_LOGIN = True
    settings.OIDC_AUTOLOGIN = True
    found = problems(settings, oidc=False)
    assert "nobody can sign in" in found["accounts.E025"].msg
    assert "OIDC_AUTOLOGIN" in found["accounts.E025"].msg
    assert "signin_link" in found["accounts.E025"].hint


def test_password_login_disabled_with_oidc_is_fine(settings):
    settings.DISABLE_USERPASS_LOGIN = True
    assert "accounts.E025" not in problems(settings)


# --- the provider's URL --------------------------------------------------------------------
def test_authentik_url_without_application_slug_is_reported(settings):
    found = problems(settings, OIDC_SERVER_APPLICATION_URL="https://auth.example.com")
    assert "no /application/o/<slug>/ part" in found["accounts.E026"].msg
    assert "OIDC_SERVER_APPLICATION_URL=https://auth.example.com/application/o/<slug>/" in found["accounts.E026"].hint


@pytest.mark.parametrize(
    "url, issuer",
    [
        ("https://auth.example.com/application/o/romm/.well-known/openid-configuration",
         "https://auth.example.com/application/o/romm/"),
        ("https://auth.example.org/.well-known/openid-configuration/", "https://auth.example.org"),
    ],
)
def test_discovery_url_as_application_url_is_reported(settings, url, issuer):
    found = problems(settings, profile=AUTHELIA, OIDC_PROVIDER=None, OIDC_SERVER_APPLICATION_URL=url)
    assert "is the discovery document's URL" in found["accounts.E027"].msg
    assert f"OIDC_SERVER_APPLICATION_URL={issuer}" in found["accounts.E027"].hint
    assert "OIDC_SERVER_METADATA_URL" in found["accounts.E027"].hint


@pytest.mark.parametrize(
    "url, issuer",
    [
        ("https://auth.example.com/application/o/authorize/", "https://auth.example.com/application/o/<slug>/"),
        ("https://auth.example.com/application/o/romm/jwks/", "https://auth.example.com/application/o/romm/"),
        ("https://auth.example.org/api/oidc/authorization", "https://auth.example.org"),
        ("https://accounts.google.com/o/oauth2/v2/auth", "https://accounts.google.com"),
        ("https://sso.example.com/realms/home/protocol/openid-connect/auth", "https://sso.example.com/realms/home"),
        ("https://id.example.com/authorize", "https://id.example.com"),
    ],
)
def test_endpoint_url_as_application_url_is_reported_with_the_issuer(settings, url, issuer):
    found = problems(settings, OIDC_PROVIDER="authentik" if "/application/o/" in url else None,
                     OIDC_SERVER_APPLICATION_URL=url)
    assert set(found) == {"accounts.E028"}
    assert found["accounts.E028"].hint.startswith(f"Set OIDC_SERVER_APPLICATION_URL={issuer} ")


def test_metadata_url_that_is_not_a_discovery_url_is_a_warning(settings):
    found = problems(settings, OIDC_SERVER_APPLICATION_URL=None, OIDC_SERVER_METADATA_URL="https://auth.example.org")
    assert "is not a discovery document URL" in found["accounts.W028"].msg


def test_localhost_provider_is_a_warning_in_deployment_checks(settings):
    url = "http://localhost:9000/application/o/romm/"
    assert "accounts.W025" not in problems(settings, OIDC_SERVER_APPLICATION_URL=url)
    found = problems(settings, deploy=True, OIDC_SERVER_APPLICATION_URL=url)
    assert "inside a container, localhost is the container itself" in found["accounts.W025"].msg


@pytest.mark.parametrize(
    "url",
    [
        "http://auth.example.com/application/o/romm/",
        "https://192.168.1.10:9443/application/o/romm/",
        "https://authentik-server:9443/application/o/romm/",
    ],
)
def test_internal_provider_address_for_public_site_is_a_warning(settings, url):
    found = problems(settings, OIDC_SERVER_APPLICATION_URL=url)
    assert set(found) == {"accounts.W026"}
    assert "public https URL" in found["accounts.W026"].hint


def test_lan_addresses_on_both_sides_are_fine(settings):
    found = problems(settings, base="http://192.168.1.5:8080",
                     OIDC_SERVER_APPLICATION_URL="http://192.168.1.5:9000/application/o/romm/")
    assert found == {}


# --- the site's own address ----------------------------------------------------------------
def test_unset_base_url_is_a_warning_in_deployment_checks(settings):
    found = problems(settings, base="http://localhost:8000", deploy=True)
    assert "ROMM_BASE_URL is http://localhost:8000" in found["accounts.W027"].msg


def test_allowed_hosts_without_the_site_host_is_reported(settings):
    problems(settings)
    settings.ALLOWED_HOSTS = ["romm.local"]
    found = {m.id: m for m in run_checks()}
    assert "does not include romm.example.com" in found["accounts.E029"].msg


def test_allowed_hosts_wildcard_covers_the_site_host(settings):
    problems(settings)
    settings.ALLOWED_HOSTS = [".example.com"]
    assert "accounts.E029" not in {m.id for m in run_checks()}


@pytest.mark.parametrize("origins, reported", [(["https://other.example.com"], True),
                                               (["http://romm.example.com"], True),
                                               (["https://*.example.com"], False)])
def test_csrf_trusted_origins_without_the_site_is_a_warning(settings, origins, reported):
    problems(settings)
    settings.CSRF_TRUSTED_ORIGINS = origins
    assert ("accounts.W029" in {m.id for m in run_checks()}) is reported


@pytest.mark.parametrize("variable", ["OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_REDIRECT_URI"])
def test_quotes_left_in_a_value_are_reported_without_the_value(settings, variable):
    value = {"OIDC_REDIRECT_URI": "'https://romm.example.com/api/oauth/openid'\"",
             "OIDC_CLIENT_ID": "\"'romm'\"", "OIDC_CLIENT_SECRET": "\"'hunter2'\""}[variable]
    found = problems(settings, **{variable: value})
    assert f"{variable} contains quote characters" in found["accounts.W030"].msg
    assert "hunter2" not in found["accounts.W030"].msg + found["accounts.W030"].hint


def test_checks_read_per_provider_variable_names(settings):
    found = problems(
        settings,
        OIDC_PROVIDERS="authelia",
        OIDC_AUTHELIA_PROVIDER="authelia",
        OIDC_AUTHELIA_SERVER_APPLICATION_URL="https://auth.example.org/api/oidc/authorization",
        OIDC_AUTHELIA_REDIRECT_URI="https://games.example.com/api/oauth/openid/authelia",
    )
    assert found["accounts.E028"].msg.startswith("OIDC_AUTHELIA_SERVER_APPLICATION_URL=")
    assert found["accounts.E021"].msg.startswith("OIDC_AUTHELIA_REDIRECT_URI=")
