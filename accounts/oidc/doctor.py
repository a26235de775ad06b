"""Ask each configured provider, live, whether sign-in can work: the findings of ``oidc_doctor``.

The system checks look at settings only; this talks to the provider with the site's own TLS
settings and timeout, fetches discovery and JWKS fresh (never from the cache), and says in plain
words what is wrong and what to change. A finding is a dict: ``level`` (error, warning, info),
``code``, ``message`` and ``fix``.
"""

import dataclasses
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import ERROR, WARNING, run_checks

from accounts.errors import SignInError
from accounts.oidc import client as provider_client
from accounts.oidc import discovery
from accounts.oidc.advice import EMAIL_VERIFIED_FIX, UNREACHABLE
from accounts.oidc.doctor_claims import configuration as groups_configuration
from accounts.oidc.idtoken import HMAC_ALGORITHMS, KEY_TYPES
from accounts.oidc.provider import providers


def finding(level, code, message, fix=""):
    return {"level": level, "code": code, "message": message, "fix": fix}


def _is_authentik(provider, issuer):
    return provider.label.lower() == "authentik" or "/application/o/" in urlsplit(issuer or "").path


def _is_root_issuer(issuer):
    return urlsplit(issuer or "").path.strip("/") == ""


def diagnose(provider):
    """Findings about one provider, from what it answers now."""
    var = provider.vars
    findings = []
    url = provider.discovery_url
    try:
        document = provider_client.fetch_json(provider, "GET", url, reason_if_bad="discovery_invalid")
    except SignInError as error:
        code, fix = UNREACHABLE.get(error.reason, (error.reason, ""))
        return [
            finding(
                "error",
                code,
                f"Discovery document {url} could not be fetched: {error.detail}.",
                fix.format(
                    var=var.get("SERVER_APPLICATION_URL", "OIDC_SERVER_APPLICATION_URL"),
                    url=url,
                    timeout=settings.OIDC_TIMEOUT,
                    cafile=var.get("TLS_CACERTFILE", "OIDC_TLS_CACERTFILE"),
                ),
            )
        ]
    if not isinstance(document, dict) or not isinstance(document.get("issuer"), str):
        return [finding("error", "discovery_invalid", f"{url} is not an OpenID discovery document (no issuer).",
                         UNREACHABLE["discovery_invalid"][1].format(var=var["SERVER_APPLICATION_URL"], url=url))]
    issuer = document["issuer"]
    findings += _issuer(provider, issuer)
    try:
        # Validate the rest of the document as sign-in does, with the issuer it announces.
        discovery.check_metadata(dataclasses.replace(provider, server_url=issuer, metadata_url=None), document)
    except SignInError as error:
        findings.append(finding("error", "discovery_invalid", f"The discovery document cannot be used: {error.detail}.",
                                 "Fix the provider's configuration (its public URL / external host setting)."))
        return findings
    findings += _signing(provider, document)
    findings += _client_auth(provider, document)
    findings += _pkce(document)
    findings += _claims(provider, document, issuer)
    findings += _signin_requests(provider, document, issuer)
    findings += _logout(provider, document, issuer)
    findings += _recheck(provider, document, issuer)
    findings.append(
        finding(
            "info",
            "register",
            f"Register this redirect URI at the provider, exactly: {provider.redirect_uri}"
            + (f" ; post-logout redirect URI: {provider.post_logout_redirect_uri}" if provider.rp_initiated_logout else "")
            + (
                f" ; back-channel Logout URI: {settings.ROMM_BASE_URL}/api/oauth/backchannel-logout"
                if document.get("backchannel_logout_supported") or _is_authentik(provider, issuer)
                else ""
            ),
        )
    )
    findings.append(finding("info", "scopes", f"Scopes requested: {provider.scope_string(document)}."))
    if groups_configuration(provider):
        findings.append(finding("info", "groups", groups_configuration(provider)))
    return findings


def _issuer(provider, issuer):
    expected = provider.expected_issuer
    if expected is None or expected.rstrip("/") == issuer.rstrip("/"):
        return [finding("info", "issuer", f"Issuer {issuer} matches the configuration.")]
    key = "SERVER_APPLICATION_URL" if provider.server_url else "SERVER_METADATA_URL"
    value = issuer if key == "SERVER_APPLICATION_URL" else issuer.rstrip("/") + "/.well-known/openid-configuration"
    fix = f"Set {provider.vars[key]}={value}"
    if urlsplit(expected).netloc.lower() != urlsplit(issuer).netloc.lower():
        fix += (
            ". The host differs: Authentik builds its issuer from the Host it is called by, so call it by its "
            "public name (and have the proxy pass the Host header through) rather than by an internal address"
        )
    return [
        finding(
            "error",
            "issuer_mismatch",
            f"The provider calls itself {issuer}, but the configuration expects {expected}; every ID token would be refused.",
            fix + ".",
        )
    ]


def _signing(provider, document):
    algorithms = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    usable = [a for a in algorithms if a in KEY_TYPES or a in HMAC_ALGORITHMS]
    asymmetric = [a for a in usable if a in KEY_TYPES]
    if not usable:
        return [finding("error", "signing_unsupported",
                         f"ID tokens are signed with {', '.join(algorithms)}, none of which this site accepts.",
                         "Configure the provider to sign ID tokens with RS256 or ES256.")]
    findings = []
    if not asymmetric:
        findings.append(
            finding(
                "warning",
                "signing_hs256",
                f"ID tokens are signed with {', '.join(usable)} and the client secret: the provider has no signing key "
                "(in Authentik: no signing key selected). Sign-in works, but anyone who knows the client secret can "
                "make tokens.",
                "In Authentik: Applications → Providers → this provider → Edit → Signing Key: select one "
                "(for example 'authentik Self-signed Certificate').",
            )
        )
    else:
        findings.append(finding("info", "signing", f"ID tokens are signed with {', '.join(usable)}."))
    jwks_uri = document.get("jwks_uri")
    if not jwks_uri:
        if asymmetric:
            findings.append(finding("error", "jwks_missing", "The discovery document has no jwks_uri, so no signature can be checked.",
                                     "Fix the provider's configuration: it must publish its signing keys."))
        return findings
    try:
        jwks = provider_client.fetch_json(provider, "GET", jwks_uri)
    except SignInError as error:
        findings.append(finding("error", "jwks_unreachable", f"The signing keys ({jwks_uri}) could not be fetched: {error.detail}.",
                                 "Check that this server can reach that URL; it comes from the discovery document."))
        return findings
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    keys = [k for k in keys if isinstance(k, dict)] if isinstance(keys, list) else []
    kinds = {KEY_TYPES[a][0] for a in asymmetric}
    if asymmetric and not any(k.get("kty") in kinds and k.get("use", "sig") == "sig" for k in keys):
        findings.append(finding("error", "jwks_empty",
                                 f"The provider announces {', '.join(asymmetric)} but its JWKS has no matching signing key.",
                                 "Select or create a signing key at the provider (Authentik: the provider's Signing Key)."))
    else:
        findings.append(finding("info", "jwks", f"JWKS answers with {len(keys)} key(s)."))
    return findings


def _client_auth(provider, document):
    method = provider.client_auth_method(document)
    supported = document.get("token_endpoint_auth_methods_supported")
    variable = provider.vars["TOKEN_ENDPOINT_AUTH_METHOD"]
    if supported and method not in supported:
        usable = [m for m in supported if m in ("client_secret_basic", "client_secret_post")]
        return [
            finding(
                "error",
                "auth_method_unsupported",
                f"This site authenticates at the token endpoint with {method}, but the provider supports only "
                f"{', '.join(supported)}.",
                f"Set {variable}={usable[0]}." if usable else "Configure the client at the provider as a confidential "
                "client with client_secret_basic or client_secret_post.",
            )
        ]
    return [
        finding(
            "info",
            "auth_method",
            f"Token endpoint authentication: {method}"
            + ("" if supported else " (the provider does not list its methods)")
            + f". Authelia enforces it: the client's token_endpoint_auth_method must be {method}.",
        )
    ]


def _pkce(document):
    methods = document.get("code_challenge_methods_supported")
    if methods is None:
        return [finding("warning", "pkce_not_advertised",
                         "The provider does not say whether it supports PKCE; this site always sends an S256 challenge.",
                         "Nothing to do if sign-in works; a provider without PKCE ignores the challenge.")]
    if "S256" not in methods:
        return [finding("error", "pkce_s256_missing",
                         f"The provider supports PKCE methods {', '.join(methods) or 'none'} but not S256, which this site sends.",
                         "Enable PKCE S256 for the client (Authelia: pkce_challenge_method: S256).")]
    return [finding("info", "pkce", "PKCE S256 is supported.")]


def _claims(provider, document, issuer):
    findings = []
    claims = document.get("claims_supported") or []
    userinfo = document.get("userinfo_endpoint")
    if _is_authentik(provider, issuer):
        findings.append(
            finding(
                "warning",
                "email_verified",
                "Authentik 2025.10 and newer send email_verified: false by default, so a first sign-in that would link "
                "or create an account by email is refused (people already linked still sign in).",
                EMAIL_VERIFIED_FIX,
            )
        )
    elif "email_verified" in claims:
        findings.append(finding("info", "email_verified",
                                 "The provider lists email_verified: a first sign-in by email needs it to be true."))
    claims_request = provider.claims_request(document, provider.scope_string(document))
    if claims_request:
        findings.append(finding("info", "claims_parameter",
                                "The provider takes the claims parameter: each sign-in asks for "
                                f"{', '.join(claims_request['id_token'])} in the ID token, and asks userinfo only "
                                "when the ID token still lacks one of them."))
    elif _minimal_id_token(provider, document, issuer):
        message = ("Claims such as email, groups and preferred_username probably arrive only from userinfo "
                   "(Authelia 4.39 keeps them out of the ID token)")
        if not userinfo:
            findings.append(finding("error", "userinfo_missing", message + ", but the provider has no userinfo endpoint.",
                                     "Configure the provider to put the claims in the ID token (Authelia: a claims_policy)."))
        else:
            findings.append(finding("info", "claims_userinfo", message + "; this site fetches userinfo at each sign-in."))
    else:
        findings.append(finding("info", "claims_id_token",
                                 "Claims arrive in the ID token" + (" and from userinfo." if userinfo else " (no userinfo endpoint).")))
    if provider.claim_roles and claims:
        top = provider.claim_roles.split(".")[0]
        if top not in claims:
            findings.append(
                finding(
                    "warning",
                    "roles_claim_unlisted",
                    f"{provider.vars['CLAIM_ROLES']}={provider.claim_roles}, but the provider does not list a {top!r} claim.",
                    "Check the claim name; Authelia sends groups only with the groups scope in the client's scopes.",
                )
            )
    return findings


def _minimal_id_token(provider, document, issuer):
    """Whether the ID token probably lacks the claims, so that userinfo supplies them (Authelia 4.39)."""
    return _is_root_issuer(issuer) and not _is_authentik(provider, issuer)


def _signin_requests(provider, document, issuer):
    """How many requests to the provider a sign-in makes with this configuration, and why."""
    variable = provider.vars["CLAIMS_PARAMETER"]
    cached = f"Discovery and signing keys are read once per {settings.OIDC_CACHE_SECONDS} s (OIDC_CACHE_SECONDS)."
    if provider.claims_request(document, provider.scope_string(document)):
        return [finding("info", "signin_requests",
                        "A sign-in makes 1 request to the provider: the token request, its ID token carrying the claims "
                        f"the claims parameter asks for (2 if the provider leaves one out: userinfo too). {cached}")]
    advertised = document.get("claims_parameter_supported") is True
    if not advertised:
        why = "the provider does not advertise claims_parameter_supported"
    elif provider.claims_parameter == "off":
        why = f"{variable}=false"
    else:
        why = "no claim this site needs is within the requested scopes"
    if not document.get("userinfo_endpoint") or not _minimal_id_token(provider, document, issuer):
        return [finding("info", "signin_requests", "A sign-in makes 1 request to the provider: the token request "
                        f"(the claims parameter is not used: {why}). {cached}")]
    fix = ""
    if advertised and provider.claims_parameter == "off":
        fix = (f"Set {variable}=auto (or remove it): the provider takes the claims parameter, which puts the claims "
               "in the ID token and saves the userinfo request.")
    return [finding("info", "signin_requests", "A sign-in makes 2 requests to the provider: the token request and "
                    f"userinfo (the claims parameter is not used: {why}). {cached}", fix)]


def _logout(provider, document, issuer):
    variable = provider.vars["RP_INITIATED_LOGOUT"]
    endpoint = provider.end_session_endpoint or document.get("end_session_endpoint")
    if not provider.rp_initiated_logout:
        if endpoint:
            return [finding("info", "end_session",
                             f"The provider has an end-session endpoint; set {variable}=true to end its session on logout here.")]
        return [finding("info", "end_session", "The provider has no end-session endpoint; logout ends this site's session only.")]
    if endpoint:
        return [finding("info", "end_session", f"Logout here also ends the provider session at {endpoint}.")]
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(issuer))
    return [
        finding(
            "warning",
            "end_session_missing",
            f"{variable} is true, but the provider has no end-session endpoint (Authelia has none): logout here "
            "leaves the provider session open.",
            f"Set {provider.vars['END_SESSION_ENDPOINT']}={origin}/logout?rd={provider.post_logout_redirect_uri} "
            "(Authelia's portal logout), or turn RP-initiated logout off.",
        )
    ]


def _recheck(provider, document, issuer):
    """With the session recheck on, the provider must issue refresh tokens (offline_access)."""
    if not provider.session_recheck_seconds:
        return []
    scopes, grants = document.get("scopes_supported"), document.get("grant_types_supported")
    missing = []
    if isinstance(scopes, list) and "offline_access" not in scopes:
        missing.append("the offline_access scope")
    if isinstance(grants, list) and "refresh_token" not in grants:
        missing.append("the refresh_token grant")
    authentik_fix = ("Authentik: on the provider, Advanced protocol settings -> Scopes, also select "
                     "\"authentik default OAuth Mapping: OpenID 'offline_access'\".")
    authelia_fix = ("Authelia: add 'offline_access' to the client's scopes and 'refresh_token' to its "
                    "grant_types (without them Authelia refuses the sign-in with invalid_scope).")
    if missing:
        return [
            finding(
                "warning",
                "recheck_no_refresh",
                f"{provider.vars['SESSION_RECHECK_SECONDS']} is on, but the provider advertises neither "
                f"{' nor '.join(missing)}: it issues no refresh token, so every session here ends at its first check.",
                authentik_fix if _is_authentik(provider, issuer) else f"{authelia_fix} {authentik_fix}",
            )
        ]
    revocation = document.get("revocation_endpoint")
    return [
        finding(
            "info",
            "recheck",
            f"Sessions are confirmed with the provider every {provider.session_recheck_seconds} s (one refresh "
            f"request per session per interval; grace {provider.session_recheck_grace_seconds} s); logout "
            + (f"revokes the refresh token at {revocation}." if revocation else "cannot revoke it (no revocation_endpoint).")
            + ("" if _is_authentik(provider, issuer) else f" {authelia_fix}"),
        )
    ]


def configuration_findings():
    """The site's own system checks (accounts.*), as findings."""
    findings = []
    for message in run_checks(include_deployment_checks=True):
        if not (message.id or "").startswith("accounts.") or message.level < WARNING:
            continue
        level = "error" if message.level >= ERROR else "warning"
        findings.append(finding(level, message.id, message.msg, message.hint or ""))
    return findings


def report():
    """Every finding: the site's configuration, then each provider's."""
    result = {"configuration": configuration_findings(), "providers": []}
    for provider in providers():
        result["providers"].append(
            {
                "name": provider.name,
                "label": provider.display_name,
                "discovery_url": provider.discovery_url,
                "findings": diagnose(provider),
            }
        )
    every = result["configuration"] + [f for p in result["providers"] for f in p["findings"]]
    result.update(
        ok=not any(f["level"] == "error" for f in every),
        errors=sum(f["level"] == "error" for f in every),
        warnings=sum(f["level"] == "warning" for f in every),
        oidc_enabled=settings.OIDC_ENABLED,
    )
    return result
