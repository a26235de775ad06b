"""Where the two profiles differ at the protocol level, as hooks on django-oauth-toolkit."""

import hashlib
import uuid

from django.conf import settings
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.openid import Server as OIDCServer

from devidp.people import PEOPLE, groups_of

AUTHENTIK_ACR = "goauthentik.io/providers/oauth2/default"
# The provider session (sid) of each refresh token family, so a refreshed ID token keeps it.
# In memory: a development tool's restart only drops the sid from later refreshes.
FAMILY_SIDS = {}
# Authelia: the claims the claims parameter added to the sign-in's ID token, per refresh token
# family. Its refreshed ID tokens repeat them with the values of the sign-in (they are kept in
# the session it made then), however the person changed since.
FAMILY_ID_TOKEN_CLAIMS = {}


def issuer(request):
    """The issuer, from the Host the request arrived on (as both products do)."""
    # DOT derives it from the discovery URL: Authentik's form ends with a slash, Authelia's does not.
    base = oauth2_settings.oidc_issuer(request)
    return base if settings.AUTHELIA else base + "/"


def subject(username):
    """Authentik: a hashed user id (hex). Authelia: an opaque UUID. Both stable across restarts."""
    if settings.AUTHELIA:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "devidp-authelia:" + username))
    return hashlib.sha256(("devidp-authentik:" + username).encode()).hexdigest()


def user_claims(user, scopes, for_id_token, requested=()):
    """The person's claims that the granted scopes release, in the ID token or userinfo.

    Authelia 4.39 ("claims hydration") puts in the ID token only the claims the authorization
    request's claims parameter names (``requested``), as far as the scopes release them.
    """
    person = PEOPLE.get(user.username)
    claims = {"sub": subject(user.username)}
    name = user.get_full_name() or user.username
    if "email" in scopes:
        claims["email"] = user.email
        claims["email_verified"] = True if settings.AUTHELIA else bool(person and person.email_verified)
    if "profile" in scopes:
        claims["name"] = name
        claims["preferred_username"] = user.username
        if not settings.AUTHELIA:
            claims["given_name"] = name  # Authentik's default mapping sends the full name here too
            claims["nickname"] = user.username
            claims["groups"] = groups_of(user)
    if settings.AUTHELIA and "groups" in scopes:
        claims["groups"] = groups_of(user)
    if settings.AUTHELIA and for_id_token:
        return {name: value for name, value in claims.items() if name == "sub" or name in requested}
    return claims


def requested_id_token_claims(request):
    """The claims the claims parameter (OpenID Connect Core 5.5) asks for in the ID token."""
    claims = request.claims if isinstance(request.claims, dict) else {}
    wanted = claims.get("id_token")
    return set(wanted) if isinstance(wanted, dict) else set()


def check_authelia_request(request):
    """Authelia refuses a state or nonce shorter than 8 characters and PKCE other than S256."""
    if len(request.state or "") < 8:
        raise errors.CustomOAuth2Error(
            error="invalid_state",
            description=(
                "The state is missing or does not have enough characters and is therefore considered "
                "too weak. Request parameter 'state' must be at least '8' characters long."
            ),
            request=request,
        )
    if request.code_challenge and request.code_challenge_method != "S256":
        # Without a method the challenge counts as "plain".
        raise errors.InvalidRequestError(
            description="Clients must use code_challenge_method=S256, plain is not allowed.", request=request
        )
    nonce = request.nonce
    if nonce is not None and len(nonce) < 8:
        raise errors.InvalidRequestError(
            description="Parameter 'nonce' is set but does not satisfy the minimum entropy of 8 characters.",
            request=request,
        )
    return {}


class Server(OIDCServer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if settings.AUTHELIA:
            for grant in (self.auth_grant, self.openid_connect_auth):
                grant.custom_validators.pre_auth.append(check_authelia_request)


class Validator(OAuth2Validator):
    def get_oidc_issuer_endpoint(self, request):
        return issuer(request)

    def authenticate_client(self, request, *args, **kwargs):
        if settings.AUTHELIA and not self._extract_basic_auth(request):
            method = "client_secret_post" if getattr(request, "client_secret", None) else "none"
            raise errors.InvalidClientError(
                description=(
                    "Client authentication failed (e.g., unknown client, no client authentication included, "
                    "or unsupported authentication method). The request was determined to be using "
                    f"'token_endpoint_auth_method' method '{method}', however the OAuth 2.0 client "
                    "registration does not allow this method."
                ),
                request=request,
            )
        return super().authenticate_client(request, *args, **kwargs)

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        if settings.AUTHELIA:
            return super().validate_scopes(client_id, scopes, client, request, *args, **kwargs)
        # Authentik drops scopes it has no mapping for instead of refusing the request.
        scopes[:] = [scope for scope in scopes if scope in oauth2_settings.SCOPES]
        return True

    def _create_authorization_code(self, request, code, expires=None):
        # The provider session this code belongs to, so its ID token carries that session's sid.
        claims = request.claims if isinstance(request.claims, dict) else {}
        request.claims = {**claims, "devidp_sid": getattr(request, "devidp_sid", "")}
        return super()._create_authorization_code(request, code, expires)

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous_refresh_token):
        refresh_token = super()._create_refresh_token(request, refresh_token_code, access_token, previous_refresh_token)
        sid = _sid(request)
        family = str(refresh_token.token_family)
        if previous_refresh_token is None and sid:
            FAMILY_SIDS[family] = sid
        if previous_refresh_token is None and settings.AUTHELIA:
            FAMILY_ID_TOKEN_CLAIMS[family] = user_claims(
                request.user, request.scopes, for_id_token=True, requested=requested_id_token_claims(request)
            )
        return refresh_token

    def save_bearer_token(self, token, request, *args, **kwargs):
        # Both products issue a refresh token only for the offline_access scope.
        if "offline_access" not in (request.scopes or []):
            token.pop("refresh_token", None)
        return super().save_bearer_token(token, request, *args, **kwargs)

    def get_oidc_claims(self, token, token_handler, request):
        previous = getattr(request, "refresh_token_instance", None)
        if settings.AUTHELIA and previous is not None:
            # A refresh: the sign-in's ID token claims again, as they were then.
            return FAMILY_ID_TOKEN_CLAIMS.get(str(previous.token_family)) or {"sub": subject(request.user.username)}
        return user_claims(request.user, request.scopes, for_id_token=True, requested=requested_id_token_claims(request))

    def get_userinfo_claims(self, request):
        return user_claims(request.user, request.scopes, for_id_token=False)

    def finalize_id_token(self, id_token, token, token_handler, request):
        if settings.AUTHELIA:
            id_token["aud"] = [request.client.client_id]
            id_token["azp"] = request.client.client_id
            id_token["amr"] = ["pwd"]
        else:
            id_token.pop("at_hash", None)  # Authentik's code-flow ID token has none
            sid = _sid(request)
            if sid:
                id_token["sid"] = sid  # the same value its back-channel logout token names
            id_token["acr"] = AUTHENTIK_ACR
            id_token["amr"] = ["pwd"]
        return super().finalize_id_token(id_token, token, token_handler, request)


def _sid(request):
    """The sid of the provider session behind this token request (code exchange or refresh)."""
    if isinstance(request.claims, dict) and request.claims.get("devidp_sid"):
        return request.claims["devidp_sid"]
    previous = getattr(request, "refresh_token_instance", None)
    return FAMILY_SIDS.get(str(previous.token_family)) if previous is not None else None
