"""A URL conf with one endpoint per scope, so tests can reach every scope through ``api_view``."""

from django.http import JsonResponse
from django.urls import include, path

from accounts.api.access import SCOPES, api_view


def _endpoint(scope):
    @api_view("GET", "POST", scope=scope)
    def view(request):
        return JsonResponse({"scope": scope, "user": request.user.username, "via": request.access.credential})

    return view


@api_view("GET", "DELETE", scope={"GET": "roms.read", "DELETE": "roms.write"})
def per_method(request):
    return JsonResponse({"method": request.method})


urlpatterns = [
    *[path(f"scoped/{scope}", _endpoint(scope)) for scope in SCOPES],
    path("scoped-per-method", per_method),
    path("", include("romm_site.urls")),
]
