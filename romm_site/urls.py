from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from accounts.api.http import unknown_path
from accounts.audit import views as audit
from accounts.local.passwords import admin_login

urlpatterns = [
    # The admin's own password form would bypass single sign-on and DISABLE_USERPASS_LOGIN.
    path("admin/login/", admin_login, name="admin_login_redirect"),
    # ... and its logout would skip the provider logout and the refresh token's revocation.
    path("admin/logout/", RedirectView.as_view(url="/logout"), name="admin_logout_redirect"),
    path("admin/sign-in-health", audit.page, name="sign_in_health"),
    path("admin/", admin.site.urls),
    path("api/admin/sign-in-health", audit.api, name="api_sign_in_health"),
    path("library/", include("library.urls")),
    path("api/", include("library.api_urls")),
    path("", include("devices.urls")),
    path("", include("accounts.urls")),
    # Last: any other path under /api/ is JSON, as every API answer is.
    re_path(r"^api/(?P<path>.*)$", unknown_path, name="api_unknown_path"),
]
