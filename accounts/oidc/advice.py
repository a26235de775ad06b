"""What the doctor (``accounts.oidc.doctor``) tells the operator to do: the wording of its fixes.

``UNREACHABLE``: for each way the provider could not be asked (a ``SignInError`` reason), the
finding's code and its fix, with ``{var}``, ``{url}``, ``{timeout}`` and ``{cafile}`` filled in.
"""

UNREACHABLE = {
    "provider_unreachable": (
        "unreachable",
        (
            "Check {var} and that this server (this container) can resolve and reach that host: "
            "docker compose exec site python -c \"import urllib.request; urllib.request.urlopen('{url}')\""
        ),
    ),
    "provider_timeout": (
        "timeout",
        (
            "Check that this server can reach the provider (firewall, DNS, proxy); OIDC_TIMEOUT raises the limit "
            "(now {timeout}s)."
        ),
    ),
    "provider_tls": (
        "tls",
        (
            "This server does not trust the provider's certificate. Set {cafile} to a PEM file with the root CA "
            "that signed it (and mount it into the container)."
        ),
    ),
    "discovery_invalid": (
        "discovery_invalid",
        (
            "{var} must be the issuer: discovery is read from it + /.well-known/openid-configuration. "
            "Open {url} in a browser: it must show a JSON document."
        ),
    ),
    "bad_response": ("bad_response", "Open {url} in a browser: it must show a JSON document."),
}
EMAIL_VERIFIED_FIX = (
    "In Authentik: Customization → Property Mappings → Create → Scope Mapping, scope name 'email', "
    "expression: return {\"email\": request.user.email, \"email_verified\": True}; then on the provider "
    "(Advanced protocol settings → Scopes) select it instead of 'authentik default OAuth Mapping: OpenID "
    "\"email\"'."
)
