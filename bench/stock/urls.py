from django.http import HttpResponse
from django.urls import include, path


def home(request):
    return HttpResponse(f"signed in as {request.user.username}" if request.user.is_authenticated else "anonymous")


def failed(request):
    return HttpResponse("sign-in failed", status=403)


urlpatterns = [
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("", home),
    path("failed", failed),
]
