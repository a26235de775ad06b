from django.urls import path

from library import views

app_name = "library"

urlpatterns = [
    path("", views.rom_list, name="rom_list"),
    path("roms/add/", views.rom_add, name="rom_add"),
    path("roms/<int:pk>/", views.rom_detail, name="rom_detail"),
    path("roms/<int:pk>/edit/", views.rom_edit, name="rom_edit"),
    path("roms/<int:pk>/delete/", views.rom_delete, name="rom_delete"),
    path("platforms/", views.platform_list, name="platform_list"),
    path("platforms/add/", views.platform_add, name="platform_add"),
    path("platforms/<int:pk>/edit/", views.platform_edit, name="platform_edit"),
    path("platforms/<int:pk>/delete/", views.platform_delete, name="platform_delete"),
]
