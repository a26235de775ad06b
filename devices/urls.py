from django.urls import path

from devices.views import client_tokens as api
from devices.views import device_flow as device_api
from devices.views import pages, profile

urlpatterns = [
    path("api/client-tokens", api.client_tokens, name="api_client_tokens"),
    path("api/client-tokens/exchange", api.exchange, name="api_client_tokens_exchange"),
    path("api/client-tokens/pair/<str:code>/status", api.pair_status, name="api_client_tokens_pair_status"),
    path("api/client-tokens/<int:pk>", api.client_token, name="api_client_token"),
    path("api/client-tokens/<int:pk>/regenerate", api.regenerate, name="api_client_token_regenerate"),
    path("api/client-tokens/<int:pk>/pair", api.pair, name="api_client_token_pair"),
    path("api/client-tokens/<int:pk>/pair/status", api.token_pair_status, name="api_client_token_pair_status"),
    path("api/auth/device/init", device_api.init, name="api_device_init"),
    path("api/auth/device/token", device_api.token, name="api_device_token"),
    path("pair", pages.pair, name="pair"),
    path("pair/device", pages.pair_device, name="pair_device"),
    path("profile/client-tokens", profile.create_token, name="profile_client_token_create"),
    path("profile/client-tokens/<int:pk>/pair", profile.pair_token, name="profile_client_token_pair"),
    path("profile/client-tokens/<int:pk>/revoke", profile.revoke_token, name="profile_client_token_revoke"),
    path("profile/devices/<int:pk>/remove", profile.remove_device, name="profile_device_remove"),
]
