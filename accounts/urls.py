from django.urls import path

from accounts import api, logout, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login", views.LoginPage.as_view(), name="login"),
    path("logout", logout.logout, name="logout"),
    path("api/oauth/backchannel-logout", logout.backchannel_logout, name="oidc_backchannel_logout"),
    path("api/login/openid", views.oidc_start, name="oidc_start"),
    path("api/login/openid/<slug:name>", views.oidc_start, name="oidc_start_named"),
    path("api/oauth/openid", views.oidc_callback, name="oidc_callback"),
    path("api/oauth/openid/<slug:name>", views.oidc_callback, name="oidc_callback_named"),
    path("api/users/me", api.users_me, name="api_users_me"),
    path("profile/link/<slug:name>", views.oidc_link, name="oidc_link"),
]
