from django.conf import settings
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from oauth2_provider import views as dot

from devidp import views

DISCOVERY = r"\.well-known/openid-configuration/?$"

if settings.AUTHELIA:
    protocol = [
        re_path(r"^" + DISCOVERY, views.discovery, name="oidc-connect-discovery-info"),
        path("api/oidc/authorization", views.AuthorizationView.as_view(), name="authorize"),
        path("api/oidc/token", views.TokenView.as_view(), name="token"),
        path("api/oidc/userinfo", dot.UserInfoView.as_view(), name="user-info"),
        path("api/oidc/revocation", dot.RevokeTokenView.as_view(), name="revoke-token"),
        path("jwks.json", dot.JwksInfoView.as_view(), name="jwks-info"),
    ]
    pages = [
        path("", views.LoginView.as_view(), name="login"),
        path("logout", views.portal_logout, name="logout"),
    ]
else:
    app = f"application/o/{settings.DEVIDP_SLUG}/"
    protocol = [
        re_path(r"^" + app + DISCOVERY, views.discovery, name="oidc-connect-discovery-info"),
        path("application/o/authorize/", views.AuthorizationView.as_view(), name="authorize"),
        path("application/o/token/", views.TokenView.as_view(), name="token"),
        path("application/o/userinfo/", dot.UserInfoView.as_view(), name="user-info"),
        path("application/o/revoke/", dot.RevokeTokenView.as_view(), name="revoke-token"),
        path(app + "jwks/", dot.JwksInfoView.as_view(), name="jwks-info"),
        path(app + "end-session/", views.EndSessionView.as_view(), name="rp-initiated-logout"),
    ]
    pages = [
        path("", RedirectView.as_view(url=settings.LOGIN_URL)),
        path("if/flow/default-authentication-flow/", views.LoginView.as_view(), name="login"),
        path("if/flow/default-invalidation-flow/", views.portal_logout, name="logout"),
    ]

demo = [
    path("demo/people", views.people, name="people"),
    path("demo/people/<str:username>", views.change_person, name="change-person"),
]

urlpatterns = [path("", include((protocol, "oauth2_provider"))), *pages, *demo]
