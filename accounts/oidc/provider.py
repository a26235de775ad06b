"""An OpenID provider as data: its configuration, and the names and URLs that follow from it.

A ``Provider`` is built per request from ``settings.OIDC_PROVIDER_CONFIGS`` (``get_provider``).
What the provider publishes is read through ``accounts.oidc.discovery``; calls to its endpoints are
``accounts.oidc.client``; tokens it signs are checked by ``accounts.oidc.idtoken``.
"""

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings

from accounts.errors import SignInError
from accounts.oidc import discovery

WELL_KNOWN = "/.well-known/openid-configuration"
DEFAULT_SCOPES = ("openid", "email", "profile")
# Claims only the ID token may state; userinfo never overrides them.
PROTOCOL_CLAIMS = {"iss", "sub", "aud", "azp", "exp", "iat", "nbf", "nonce", "sid", "auth_time", "at_hash", "c_hash", "jti"}
# The scope that releases each standard claim (OpenID Connect Core 5.4). The claims parameter
# names one only when its scope is requested: Authelia refuses the whole authorization request
# for a claim whose scope the client may not use, and a claim the scopes do not release would
# not come from userinfo either.
CLAIM_SCOPES = {
    **dict.fromkeys(("email", "email_verified"), "email"),
    **dict.fromkeys(("phone_number", "phone_number_verified"), "phone"),
    "address": "address",
    **dict.fromkeys(
        ("name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile",
         "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"),
        "profile",
    ),
}


@dataclass(frozen=True)
class Provider:
    """One configured OpenID provider (``settings.OIDC_PROVIDER_CONFIGS`` entry)."""

    name: str
    label: str
    client_id: str | None
    client_secret: str | None
    redirect_uri: str
    server_url: str | None
    metadata_url: str | None
    allow_registration: bool = True
    email_linking: bool = True
    username_attribute: str = "preferred_username"
    claim_roles: str | None = None
    role_values: dict = field(default_factory=dict)
    groups: list = field(default_factory=list)  # OIDC_GROUPS patterns (accounts.oidc.groups)
    role_default: str = ""
    allowed_email_domains: list = field(default_factory=list)
    tls_cafile: str | None = None
    rp_initiated_logout: bool = False
    end_session_endpoint: str | None = None
    post_logout_redirect_uri: str | None = None
    scopes: str | None = None
    token_auth_method: str = "auto"
    claims_parameter: str = "auto"  # "off": never send the claims parameter
    session_recheck_seconds: int = 0
    session_recheck_grace_seconds: int = 3600
    vars: dict = field(default_factory=dict, compare=False, repr=False)
    # Seconds for each call to the provider; None: OIDC_TIMEOUT. The back-channel receiver,
    # which anyone can call, uses a short one.
    fetch_timeout: float | None = None
    prefix: str = "OIDC_"
    first: bool = False

    def own_var(self, key):
        """The variable to set for this provider alone (``OIDC_<NAME>_KEY`` with several)."""
        return self.prefix + key

    # --- what the person sees -------------------------------------------------------
    @property
    def display_name(self):
        label = self.label.strip()
        if not label:
            return "OIDC"
        return {"authentik": "Authentik", "authelia": "Authelia"}.get(label.lower(), label.title() if label.islower() else label)

    @property
    def button_text(self):
        return f"Sign in with {self.display_name}"

    @property
    def start_path(self):
        return "/api/login/openid" if self.first else f"/api/login/openid/{self.name}"

    @property
    def callback_path(self):
        return urlsplit(self.redirect_uri).path.rstrip("/") or "/"

    # --- discovery -------------------------------------------------------------------
    @property
    def discovery_url(self):
        if self.metadata_url:
            return self.metadata_url
        return (self.server_url or "").rstrip("/") + WELL_KNOWN

    @property
    def expected_issuer(self):
        """The issuer the configuration implies (compared without a trailing slash), if any."""
        if self.server_url:
            return self.server_url
        if self.metadata_url and self.metadata_url.rstrip("/").endswith(WELL_KNOWN):
            return self.metadata_url.rstrip("/")[: -len(WELL_KNOWN)]
        return None

    def metadata(self):
        """The provider's discovery document (``accounts.oidc.discovery.metadata``), kept for this request."""
        return discovery.metadata(self)

    @property
    def timeout(self):
        """Seconds for each call to the provider."""
        return self.fetch_timeout or settings.OIDC_TIMEOUT

    # --- what a sign-in reads ----------------------------------------------------------
    def needed_claims(self):
        """The claims a sign-in decides with: without one of them, userinfo is asked.

        The roles claim as configured (a dotted path reaches into a nested claim).
        """
        needed = ["email", "email_verified", self.username_attribute]
        if self.claim_roles:
            needed.append(self.claim_roles)
        return needed

    # --- the authorization request ---------------------------------------------------
    def authorization_url(self, state, nonce, code_challenge):
        document = self.metadata()
        scope = self.scope_string(document)
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        claims = self.claims_request(document, scope)
        if claims:
            params["claims"] = json.dumps(claims, separators=(",", ":"))
        parts = urlsplit(document["authorization_endpoint"])
        query = urlencode([*parse_qsl(parts.query), *params.items()])
        return urlunsplit(parts._replace(query=query))

    def scope_string(self, document):
        if self.scopes:
            scopes = self.scopes.replace(",", " ").split()
            scopes = ["openid", *[s for s in scopes if s != "openid"]]
        else:
            scopes = list(DEFAULT_SCOPES)
            if "groups" in (document.get("scopes_supported") or []):
                scopes.append("groups")
        if self.session_recheck_seconds and "offline_access" not in scopes:
            # The recheck needs a refresh token, which both providers issue only for this scope.
            scopes.append("offline_access")
        return " ".join(scopes)

    def uses_claims_parameter(self, document):
        """True when the claims parameter may be sent: allowed here (``OIDC_CLAIMS_PARAMETER``) and
        advertised by the provider (``claims_parameter_supported``, exactly JSON true)."""
        return self.claims_parameter == "auto" and document.get("claims_parameter_supported") is True

    def claims_request(self, document, scope):
        """The claims parameter (OpenID Connect Core 5.5) asking for this site's claims in the ID
        token, or None when it is not sent.

        The claims a sign-in reads (``needed_claims``; the roles claim by its top-level name) and
        ``name``, from which a username is made when the username attribute is missing; each
        ``null``, a voluntary claim. With them in the ID token, userinfo need not be asked.
        """
        if not self.uses_claims_parameter(document):
            return None
        scopes = scope.split()
        if "groups" in (document.get("scopes_supported") or []):
            # Authelia: a scope of its own releases the groups claim.
            scope_of = {**CLAIM_SCOPES, "groups": "groups"}
        else:
            scope_of = CLAIM_SCOPES
        names = [top_level_claim(name) for name in self.needed_claims()] + ["name"]
        wanted = {name: None for name in names if scope_of.get(name, "openid") in scopes}
        return {"id_token": wanted} if wanted else None

    def check_response_issuer(self, iss):
        """RFC 9207: the ``iss`` of the authorization response must be this provider's."""
        document = self.metadata()
        if iss is None:
            if document.get("authorization_response_iss_parameter_supported") is True:
                raise SignInError("mixup", "authorization response without the iss parameter")
            return
        if iss != document["issuer"]:
            raise SignInError("mixup", f"authorization response iss {iss[:200]!r} is not {document['issuer']!r}")

    # --- the token endpoint ------------------------------------------------------------
    def client_auth_method(self, document):
        """client_secret_basic unless configured otherwise or the provider only takes post."""
        if self.token_auth_method != "auto":
            return self.token_auth_method
        supported = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if "client_secret_basic" not in supported and "client_secret_post" in supported:
            return "client_secret_post"
        return "client_secret_basic"


def top_level_claim(path):
    """The claim that holds ``path``: its first segment when dotted (``realm_access.roles``), the
    whole name when it is a URI (``https://example.com/roles``, a namespaced claim)."""
    if ":" in path or "/" in path:
        return path
    return path.split(".")[0]


def providers():
    """Every configured provider, in the order of their buttons."""
    configs = settings.OIDC_PROVIDER_CONFIGS if settings.OIDC_ENABLED else []
    return [Provider(**config, first=index == 0) for index, config in enumerate(configs)]


def provider_for_issuer(issuer):
    """The configured provider that ``issuer`` names, or None, without calling any provider.

    The cached discovery document decides when there is one; otherwise the configured issuer
    (trailing slash aside). The token's ``iss`` is then checked exactly against the discovered
    issuer when it is validated.
    """
    for provider in providers():
        document = discovery.cached_metadata(provider)
        if document is not None:
            if document.get("issuer") == issuer:
                return provider
        elif provider.expected_issuer and provider.expected_issuer.rstrip("/") == issuer.rstrip("/"):
            return provider
    return None


def get_provider(name=None):
    """The provider called ``name`` (the first one when ``name`` is None), or None."""
    for provider in providers():
        if name is None or provider.name == name:
            return provider
    return None
