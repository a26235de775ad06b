from django.contrib import admin
from django.urls import include, path

from accounts.passwords import admin_login

urlpatterns = [
    # The admin's own password form would bypass single sign-on and DISABLE_USERPASS_LOGIN.
    path("admin/login/", admin_login, name="admin_login_redirect"),
    path("admin/", admin.site.urls),
    path("library/", include("library.urls")),
    path("", include("accounts.urls")),
]
