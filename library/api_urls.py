"""The JSON paths of the library, RomM's: mounted at /api/ by romm_site/urls.py."""

from django.urls import path

from library import api

urlpatterns = [
    path("platforms", api.platforms, name="api_platforms"),
    # <str:pk>: the view answers a non-numeric id with JSON 404, not the HTML page.
    path("platforms/<str:pk>", api.platform, name="api_platform"),
    path("roms", api.roms, name="api_roms"),
    path("roms/<str:pk>", api.rom, name="api_rom"),
]
