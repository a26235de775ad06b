"""System checks about where the site runs: its address, the proxy, TLS files and secrets.

Registered with the others when ``accounts.checks`` is imported; like them they read settings
only, never the network.
"""

import ipaddress
import re
from urllib.parse import urlsplit

from cryptography import x509
from django.conf import settings
from django.core.checks import Error, Warning, register
from django.http.request import validate_host
from django.utils.http import is_same_domain

from accounts.oidc.provider import WELL_KNOWN, providers

# --- Deployment mistakes: addresses, TLS, logout, lock-out, production ---------
# Self-hosters' common mistakes (RomM's support threads): a discovery or endpoint URL where the
# issuer belongs, an internal or http address for a public site, a CA file in the wrong
# format, quotes carried into values. Files are read, the network never is.

INSECURE_SECRET_PREFIX = "django-insecure-"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
AUTHENTIK_ISSUER_PATH = re.compile(r"^/application/o/[^/]+/?$")
# Endpoint paths people paste where the issuer belongs, and how to get from them to the issuer.
ENDPOINT_PATHS = [
    (re.compile(r"/application/o/(authorize|token|userinfo|revoke|introspect|device)/?$"), "/application/o/<slug>/"),
    (re.compile(r"/application/o/([^/]+)/(jwks|end-session)/?$"), r"/application/o/\1/"),
    (re.compile(r"/api/oidc/(authorization|authorize|token|userinfo|revocation|introspection)/?$"), ""),
    (re.compile(r"/jwks\.json$"), ""),
    (re.compile(r"/protocol/openid-connect/(auth|token|userinfo|certs|logout)/?$"), ""),
    (re.compile(r"/o/oauth2/(v2/)?auth/?$"), ""),
    (re.compile(r"/(oauth2/)?(authorize|authorization|token|userinfo)/?$"), ""),
]


def _parts(url):
    parts = urlsplit(url or "")
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(parts.scheme)


def _is_ip(host):
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _public_name(host):
    """A dotted DNS name (what a browser anywhere can resolve), not an IP or a container name."""
    return "." in host and not _is_ip(host) and host not in LOCAL_HOSTS


@register(deploy=True)
def insecure_secret_key(app_configs, **kwargs):
    if not settings.SECRET_KEY.startswith(INSECURE_SECRET_PREFIX):
        return []
    return [
        Error(
            "SECRET_KEY is not set, so the site uses the public development key: anyone could forge "
            "sessions and sign-in links.",
            hint="Set SECRET_KEY_FILE to a file holding 50 or more random characters (compose: the "
            "secrets/secret_key file; make one with: openssl rand -base64 48), or set SECRET_KEY.",
            id="accounts.E020",
        )
    ]


@register()
def site_address(app_configs, **kwargs):
    base = settings.ROMM_BASE_URL
    scheme, host, _ = _parts(base)
    netloc = urlsplit(base).netloc.lower()
    problems = []
    if not validate_host(host, settings.ALLOWED_HOSTS):
        problems.append(
            Error(
                f"ALLOWED_HOSTS={','.join(settings.ALLOWED_HOSTS)} does not include {host}, the host of "
                "ROMM_BASE_URL: every request to the site would be answered 400 Bad Request.",
                hint=f"Add {host} to ALLOWED_HOSTS, or remove ALLOWED_HOSTS (it defaults to ROMM_BASE_URL's host).",
                id="accounts.E029",
            )
        )
    trusted = False
    for origin in settings.CSRF_TRUSTED_ORIGINS:
        parts = urlsplit(origin)
        if parts.scheme.lower() == scheme and is_same_domain(netloc, parts.netloc.lower().lstrip("*")):
            trusted = True
    if not trusted:
        problems.append(
            Warning(
                f"CSRF_TRUSTED_ORIGINS does not include {scheme}://{netloc}: behind a TLS proxy the login, "
                "logout and admin forms would fail with 403 (CSRF verification failed).",
                hint=f"Add {scheme}://{netloc} to CSRF_TRUSTED_ORIGINS, or remove CSRF_TRUSTED_ORIGINS "
                "(it defaults to ROMM_BASE_URL).",
                id="accounts.W029",
            )
        )
    if _has_quotes_or_spaces(base):
        problems.append(_quoted("ROMM_BASE_URL"))
    return problems


@register(deploy=True)
def production_addresses(app_configs, **kwargs):
    problems = []
    if _parts(settings.ROMM_BASE_URL)[1] in LOCAL_HOSTS:
        problems.append(
            Warning(
                f"ROMM_BASE_URL is {settings.ROMM_BASE_URL}: links, cookies and the OIDC redirect URI "
                "point at the server itself, which only works in a browser on the same machine.",
                hint="Set ROMM_BASE_URL to the address people type, for example https://romm.example.com",
                id="accounts.W027",
            )
        )
    for provider in providers():
        if _parts(provider.redirect_uri)[0] == "http":
            problems.append(
                Warning(
                    f"{provider.vars['REDIRECT_URI']}={provider.redirect_uri} is http: sign-in codes and the "
                    "session cookie cross the network unencrypted.",
                    hint="Serve the site over https (a reverse proxy with a certificate), then set "
                    "ROMM_BASE_URL and the redirect URI to https:// and TRUST_PROXY_HEADERS=true.",
                    id="accounts.W021",
                )
            )
        for key, url in (("SERVER_APPLICATION_URL", provider.server_url), ("SERVER_METADATA_URL", provider.metadata_url)):
            if url and _parts(url)[1] in LOCAL_HOSTS:
                problems.append(
                    Warning(
                        f"{provider.vars[key]}={url} names this machine: inside a container, localhost is the "
                        "container itself, and the browser is sent to the same unreachable address.",
                        hint=f"Use the provider's public URL (the one people's browsers open) in {provider.vars[key]}.",
                        id="accounts.W025",
                    )
                )
    return problems


@register()
def oidc_deployment(app_configs, **kwargs):
    if not settings.OIDC_ENABLED:
        return []
    problems = []
    for provider in providers():
        problems += _address_problems(provider)
        problems += _logout_problems(provider)
        if provider.tls_cafile:
            problems += _cafile_problems(provider)
        for key, value in (
            ("CLIENT_ID", provider.client_id),
            ("CLIENT_SECRET", provider.client_secret),
            ("SERVER_APPLICATION_URL", provider.server_url),
            ("SERVER_METADATA_URL", provider.metadata_url),
            ("REDIRECT_URI", provider.redirect_uri),
        ):
            if _has_quotes_or_spaces(value):
                problems.append(_quoted(provider.vars[key]))
    return problems


def _has_quotes_or_spaces(value):
    return bool(value) and any(c in "\"'" or c.isspace() for c in value)


def _quoted(variable):
    return Warning(
        f"{variable} contains quote characters or spaces, which are then part of the value.",
        hint=f"Remove the quotes around {variable}'s value. In a compose list (- {variable}=value) or an "
        "env file, quotes are not syntax; write the bare value.",
        id="accounts.W030",
    )


def _address_problems(provider):
    var = provider.vars
    problems = []
    base_scheme, base_host, base_port = _parts(settings.ROMM_BASE_URL)
    scheme, host, port = _parts(provider.redirect_uri)
    same_place = host == base_host and (scheme != base_scheme or port == base_port)
    if host and not same_place:
        problems.append(
            Error(
                f"{var['REDIRECT_URI']}={provider.redirect_uri} is not on ROMM_BASE_URL's host "
                f"({settings.ROMM_BASE_URL}): a sign-in started there comes back to another host, where its "
                "sign-in cookie is not, and fails. One of the two is wrong.",
                hint=f"Use {settings.ROMM_BASE_URL}{provider.callback_path} here and at the provider, or fix ROMM_BASE_URL.",
                id="accounts.E021",
            )
        )
    if scheme == "http" and base_scheme == "https":
        problems.append(
            Error(
                f"{var['REDIRECT_URI']}={provider.redirect_uri} is http while ROMM_BASE_URL is https: "
                "the sign-in cookie is https-only, so the callback would not find it.",
                hint=f"Use https://{urlsplit(provider.redirect_uri).netloc}{provider.callback_path} here and at the provider.",
                id="accounts.E022",
            )
        )
    urls = [("SERVER_APPLICATION_URL", provider.server_url), ("SERVER_METADATA_URL", provider.metadata_url)]
    for key, url in urls:
        if not url or not _parts(url)[1]:
            continue
        problems += _issuer_shape_problems(provider, key, url)
        url_scheme, url_host, _ = _parts(url)
        internal = (url_scheme == "http" and base_scheme == "https") or (
            _public_name(base_host) and not _public_name(url_host) and url_host not in LOCAL_HOSTS
        )
        if internal:
            problems.append(
                Warning(
                    f"{var[key]}={url} looks like an internal address (http, an IP address or a container "
                    "name) while the site is public: the provider's endpoints, and with Authentik its issuer, "
                    "follow that address, and browsers are sent to it.",
                    hint=f"Use the provider's public https URL in {var[key]}; trust a private CA with "
                    f"{var['TLS_CACERTFILE']} rather than going around it.",
                    id="accounts.W026",
                )
            )
    return problems


def _issuer_shape_problems(provider, key, url):
    var = provider.vars
    path = urlsplit(url).path
    origin = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
    if key == "SERVER_METADATA_URL":
        if not path.rstrip("/").endswith(("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server")):
            return [
                Warning(
                    f"{var[key]}={url} is not a discovery document URL (…/.well-known/openid-configuration).",
                    hint=f"Put the issuer in {var['SERVER_APPLICATION_URL']} and remove {var[key]}, or give the "
                    "full discovery URL.",
                    id="accounts.W028",
                )
            ]
        return []
    if path.rstrip("/").endswith(WELL_KNOWN):
        issuer = url.rstrip("/")[: -len(WELL_KNOWN)]
        return [
            Error(
                f"{var[key]}={url} is the discovery document's URL, and this site appends "
                f"{WELL_KNOWN} to it again.",
                hint=f"Set {var[key]}={issuer}/ (Authentik) or {issuer} (Authelia and most others), "
                f"or move the URL to {var['SERVER_METADATA_URL']}.",
                id="accounts.E027",
            )
        ]
    for pattern, replacement in ENDPOINT_PATHS:
        match = pattern.search(path)
        if match:
            issuer = origin + path[: match.start()] + match.expand(replacement)
            return [
                Error(
                    f"{var[key]}={url} is one of the provider's endpoints, not its issuer.",
                    hint=f"Set {var[key]}={issuer} (the issuer; discovery finds every endpoint from it).",
                    id="accounts.E028",
                )
            ]
    if provider.label.lower() == "authentik" and not AUTHENTIK_ISSUER_PATH.match(path):
        return [
            Error(
                f"{var[key]}={url} has no /application/o/<slug>/ part, but Authentik's issuer is per application.",
                hint=f"Set {var[key]}={origin}/application/o/<slug>/ with your application's slug "
                "(Applications → your application → slug).",
                id="accounts.E026",
            )
        ]
    return []


def _looks_like_authelia(provider):
    if provider.label.lower() == "authelia":
        return True
    parts = urlsplit(provider.server_url or "")
    return parts.path.strip("/") == "" and "authelia" in (parts.hostname or "")


def _logout_problems(provider):
    if not provider.rp_initiated_logout or provider.end_session_endpoint or not _looks_like_authelia(provider):
        return []
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(provider.server_url or provider.metadata_url or ""))
    return [
        Warning(
            f"{provider.vars['RP_INITIATED_LOGOUT']} is true, but Authelia has no end-session endpoint: "
            "logging out here would leave the Authelia session open.",
            hint=f"Set {provider.vars['END_SESSION_ENDPOINT']}={origin}/logout?rd={provider.post_logout_redirect_uri} "
            "(Authelia's portal logout; docs/authelia.md), or turn RP-initiated logout off.",
            id="accounts.W022",
        )
    ]


def _cafile_problems(provider):
    variable, path = provider.vars["TLS_CACERTFILE"], provider.tls_cafile
    try:
        with open(path, "rb") as handle:
            data = handle.read(4 * 1024 * 1024)
    except OSError as exc:
        return [
            Error(
                f"{variable}={path} cannot be read ({exc.strerror}).",
                hint="Point it at a PEM file (not a directory) and mount the file into the container, readable by the site's user.",
                id="accounts.E023",
            )
        ]
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        if b"-----BEGIN PKCS7-----" in data or path.lower().endswith((".p7b", ".p7c")):
            fix = f"openssl pkcs7 -print_certs -in {path} -out ca.pem"
        else:
            fix = f"openssl x509 -inform der -in {path} -out ca.pem"
        return [
            Error(
                f"{variable}={path} holds no PEM certificate (-----BEGIN CERTIFICATE-----).",
                hint=f"Convert it, for example: {fix}, and point {variable} at ca.pem.",
                id="accounts.E024",
            )
        ]
    if not any(cert.subject == cert.issuer for cert in certificates):
        return [
            Warning(
                f"{variable}={path} has no root (self-signed) certificate, only server or intermediate ones: "
                "verification fails with \"unable to get local issuer certificate\".",
                hint=f"Append your root CA's certificate (PEM) to {path}.",
                id="accounts.W024",
            )
        ]
    return []
