"""The provider's pages and endpoints; the OAuth 2.0 / OIDC protocol itself is django-oauth-toolkit's."""

from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model, logout
from django.contrib.auth import views as auth_views
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST
from oauth2_provider import views as dot
from oauth2_provider.models import get_application_model
from oauthlib.common import add_params_to_uri

from devidp import backchannel
from devidp.oidc import AUTHENTIK_ACR, issuer
from devidp.people import GROUPS, PASSWORD, PEOPLE, groups_of, set_groups


def provider_context(request):
    """Template context: which product this provider imitates, and the demo people."""
    return {
        "provider_title": "Authelia (dev)" if settings.AUTHELIA else "Authentik (dev)",
        "profile": settings.DEVIDP_PROFILE,
        "people": PEOPLE.values(),
        "demo_password": PASSWORD,
    }


class LoginView(auth_views.LoginView):
    template_name = "devidp/login.html"


def portal_logout(request):
    """The provider's own logout page (Authelia: /logout?rd=URL); never advertised in discovery."""
    logout(request)
    target = request.GET.get("rd") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, _client_hosts(request)):
        return redirect(target)
    return render(request, "devidp/logged_out.html")


def _client_hosts(request):
    hosts = {request.get_host()}
    for app in get_application_model().objects.all():
        for uri in f"{app.redirect_uris} {app.post_logout_redirect_uris}".split():
            hosts.add(urlsplit(uri).netloc)
    return hosts


def discovery(request):
    def url(name):
        return request.build_absolute_uri(reverse(f"oauth2_provider:{name}"))

    endpoints = {
        "issuer": issuer(request),
        "authorization_endpoint": url("authorize"),
        "token_endpoint": url("token"),
        "userinfo_endpoint": url("user-info"),
        "jwks_uri": url("jwks-info"),
    }
    if settings.AUTHELIA:
        data = endpoints | {
            "subject_types_supported": ["public"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            # Advertised globally; whether this client may use offline_access is its own setting.
            "scopes_supported": ["openid", "profile", "groups", "email", "offline_access"],
            "revocation_endpoint": url("revoke-token"),
            "claims_supported": [
                "amr",
                "aud",
                "azp",
                "client_id",
                "exp",
                "iat",
                "iss",
                "jti",
                "rat",
                "sub",
                "auth_time",
                "nonce",
                "email",
                "email_verified",
                "alt_emails",
                "groups",
                "preferred_username",
                "name",
            ],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            # Advertised globally, enforced per client: this client only accepts client_secret_basic.
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "userinfo_signing_alg_values_supported": ["none"],
            "authorization_response_iss_parameter_supported": True,
            "request_parameter_supported": False,
            # Honoured: the named claims go into the ID token as far as the scopes allow (devidp.oidc).
            "claims_parameter_supported": True,
            "require_pushed_authorization_requests": False,
        }
    else:
        data = endpoints | {
            "end_session_endpoint": url("rp-initiated-logout"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "acr_values_supported": [AUTHENTIK_ACR],
            # Authentik lists the scopes of the mappings selected on the provider.
            "scopes_supported": ["openid", "email", "profile"] + (["offline_access"] if settings.OFFLINE_ACCESS else []),
            "revocation_endpoint": url("revoke-token"),
            "request_parameter_supported": False,
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "acr",
                "amr",
                "nonce",
                "email",
                "email_verified",
                "name",
                "given_name",
                "preferred_username",
                "nickname",
                "groups",
            ],
            "claims_parameter_supported": False,
            "code_challenge_methods_supported": ["plain", "S256"],
        }
    response = JsonResponse(data)
    response["Access-Control-Allow-Origin"] = "*"
    return response


class AuthorizationView(dot.AuthorizationView):
    def create_authorization_response(self, request, scopes, credentials, allow):
        # The code remembers the provider session it was issued in (its ID token's sid).
        credentials = {**credentials, "devidp_sid": backchannel.session_sid(request.session.session_key)}
        return super().create_authorization_response(request, scopes, credentials, allow)

    def redirect(self, redirect_to, application):
        if settings.AUTHELIA:
            # RFC 9207: the issuer rides along with the code (or the error), and the status is 303.
            if "iss" not in parse_qs(urlsplit(redirect_to).query):
                redirect_to = add_params_to_uri(redirect_to, [("iss", issuer(self.request))])
            response = super().redirect(redirect_to, application)
            response.status_code = 303
            return response
        return super().redirect(redirect_to, application)


class TokenView(dot.TokenView):
    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        if not settings.AUTHELIA and response.status_code == 401:
            # Authentik answers every token error with 400.
            response.status_code = 400
            del response["WWW-Authenticate"]
        return response


class EndSessionView(dot.RPInitiatedLogoutView):
    """Authentik 2026.5: no prompt; redirect to a registered post-logout URI with state, else a page."""

    def must_prompt(self, token_user):
        return False

    def do_logout(self, application=None, post_logout_redirect_uri=None, state=None, token_user=None):
        response = super().do_logout(application, post_logout_redirect_uri, state, token_user)
        if post_logout_redirect_uri:
            return response
        return render(self.request, "devidp/logged_out.html")


# --- the demo's administrator: change a person while they are signed in to the site ----------
def people(request):
    """``/demo/people``: each person's groups and state, with the changes an administrator makes."""
    User = get_user_model()
    rows = [
        {"user": user, "groups": groups_of(user), "note": PEOPLE[user.username].note}
        for user in User.objects.filter(username__in=PEOPLE).order_by("username")
    ]
    return render(request, "devidp/people.html", {"rows": rows, "all_groups": GROUPS, "done": request.GET.get("done")})


@require_POST
def change_person(request, username):
    """Set groups, deactivate, reactivate, end every provider session of one person, or log the
    person out by ``sub`` alone."""
    user = get_object_or_404(get_user_model(), username=username)
    action = request.POST.get("action")
    if action == "groups":
        names = [name for name in request.POST.getlist("groups") if name in GROUPS]
        set_groups(user, names)
        done = f"{username} is now in: {', '.join(names) or 'no group'}"
    elif action == "deactivate":
        user.is_active = False
        user.save()  # deletes their tokens (devidp.backchannel.user_saved)
        done = f"{username} is deactivated; their tokens are deleted"
    elif action == "activate":
        user.is_active = True
        user.save()
        done = f"{username} is active again"
    elif action == "end_sessions":
        ended = backchannel.end_sessions(request, user)
        done = f"ended {ended} provider session(s) of {username}" + (
            "" if settings.AUTHELIA else " and sent back-channel logout"
        )
    elif action == "logout_person":
        backchannel.person_logged_out(request, user)
        done = f"sent a back-channel logout naming {username} (sub, no sid)"
    else:
        return JsonResponse({"error": "unknown action"}, status=400)
    return redirect(reverse("people") + "?" + urlencode({"done": done}))
