"""No secret travels in a URL path, and the shipped access log keeps none from a query string.

Paths are written down by every access log and proxy on the way; query strings by many. A
secret a person or an app hands over (break-glass link, pairing code, user code) travels in a
fragment or a POST body, or in a query string that the shipped gunicorn configuration leaves
out of its log and whose page sends no Referer carrying it.
"""

import re
import runpy
from pathlib import Path

import pytest
from django.urls import URLResolver, get_resolver

from tests.deploy.test_image import copied_paths

ROOT = Path(__file__).resolve().parents[2]
SECRET_LIKE = re.compile(r"token|code|secret|key|link|password", re.IGNORECASE)
# RomM's own shape, kept for clients written against RomM; this site's pages never call it.
ROMM_CODE_IN_PATH = "api/client-tokens/pair/<str:code>/status"


def routes(resolver=None, prefix=""):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern)


def parameters(route):
    return [a or b for a, b in re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", route)]


def test_no_route_takes_a_secret_in_its_path():
    offending = [
        route for route in routes()
        if route != ROMM_CODE_IN_PATH and any(SECRET_LIKE.search(name) for name in parameters(route))
    ]
    assert offending == []
    assert "login/link" in set(routes())


def gunicorn_settings():
    return runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))


def test_shipped_access_log_writes_the_path_without_query_string_or_referer():
    settings = gunicorn_settings()
    assert settings["accesslog"] == "-"
    log_format = settings["access_log_format"]
    assert "%(U)s" in log_format
    for atom in ("%(r)s", "%(q)s", "%(f)s", "{referer}i", "{raw_uri}e", "{query_string}e"):
        assert atom.lower() not in log_format.lower(), atom


def test_the_container_starts_gunicorn_with_that_configuration():
    start = (ROOT / "deploy" / "start.sh").read_text()
    assert "-c deploy/gunicorn.conf.py" in start
    assert "--access-logformat" not in start and "--access-logfile" not in start
    assert ("deploy/gunicorn.conf.py", "./deploy/gunicorn.conf.py") in copied_paths()


@pytest.mark.django_db
def test_the_break_glass_page_takes_its_secret_from_the_fragment(client):
    page = client.get("/login/link").content.decode()
    assert 'name="token"' in page and "window.location.hash" in page and "history.replaceState" in page
