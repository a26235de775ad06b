"""Answers made for someone are theirs: ``Cache-Control: private`` unless the view said otherwise.

What the library shows depends on who asks (docs/platform-access.md), and so do the profile and
the account's JSON. A shared cache in front of the site (a CDN, a reverse proxy's cache) must
never hand one person's answer to another, whatever it makes of ``Vary``. Whether a request is
someone's is read from what it carries (the session cookie, an ``Authorization`` header), so
this costs no database query.
"""

from django.conf import settings
from django.utils.cache import patch_cache_control


class PrivateAnswersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Cache-Control" not in response and (
            "Authorization" in request.headers or settings.SESSION_COOKIE_NAME in request.COOKIES
        ):
            patch_cache_control(response, private=True)
        return response
