from django.urls import path

from accounts import health, profile
from accounts.api import views as api
from accounts.local import breakglass, setup
from accounts.oidc import logout, views
from accounts.sessions import page as sessions_page

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
    path("api/login", api.login, name="api_login"),
    path("api/logout", api.logout, name="api_logout"),
    path("api/token", api.token, name="api_token"),
    path("api/heartbeat", api.heartbeat, name="api_heartbeat"),
    path("login/link", breakglass.signin_link, name="signin_link"),
    path("setup", setup.setup, name="setup"),
    path("profile", profile.profile, name="profile"),
    path("profile/identities/<int:pk>/unlink", profile.unlink_identity, name="profile_unlink"),
    path("profile/tokens/revoke", profile.revoke_tokens, name="profile_revoke_tokens"),
    path("profile/link/<slug:name>", views.oidc_link, name="oidc_link"),
    path("profile/sessions", sessions_page.sessions, name="profile_sessions"),
    path("profile/sessions/sign-out-others", sessions_page.sign_out_others, name="profile_sessions_sign_out_others"),
    path("profile/sessions/<str:public_id>/sign-out", sessions_page.sign_out, name="profile_session_sign_out"),
    path("healthz", health.healthz, name="healthz"),
]
