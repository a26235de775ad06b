"""Claims from the provider's userinfo endpoint, as JSON or as a JWT it signed."""

from accounts.errors import SignInError
from accounts.oidc import client as provider_client
from accounts.oidc import idtoken


def has_userinfo(provider):
    return bool(provider.metadata().get("userinfo_endpoint"))


def fetch_userinfo(provider, access_token):
    """Claims from the userinfo endpoint (JSON, or a signed JWT validated as the provider's)."""
    endpoint = provider.metadata()["userinfo_endpoint"]
    response = provider_client.call(provider, "GET", endpoint, headers={"Authorization": f"Bearer {access_token}"})
    if response.status_code != 200:
        reason = "provider_unreachable" if response.status_code >= 500 else "bad_response"
        raise SignInError(reason, f"userinfo answered HTTP {response.status_code}")
    if response.headers.get("Content-Type", "").lower().startswith("application/jwt"):
        claims = idtoken.validate_userinfo_jwt(provider, response.text.strip())
    else:
        try:
            claims = provider_client.json_of(response)
        except ValueError:
            raise SignInError("bad_response", "userinfo did not answer JSON") from None
    if not isinstance(claims, dict):
        raise SignInError("bad_response", "userinfo is not a JSON object")
    return claims
