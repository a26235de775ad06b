"""An unexpected error: a plain page for the person, the traceback in the operator's log."""

import io
import logging

import pytest
from django.test import Client
from django.urls import path


def broken_view(request):
    raise RuntimeError("boom: the database schema is older than the code")


urlpatterns = [path("broken", broken_view)]


@pytest.fixture
def console_log():
    """The stream of the console handler the site's LOGGING gives django.request."""
    handler = next(h for h in logging.getLogger("django.request").handlers if isinstance(h, logging.StreamHandler))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


@pytest.mark.django_db
def test_an_unexpected_error_logs_its_traceback_and_shows_a_plain_page(settings, console_log):
    settings.ROOT_URLCONF = __name__
    settings.DEBUG = False
    response = Client(raise_request_exception=False).get("/broken")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page and "server log" in page
    assert "boom" not in page and "Traceback" not in page
    log = console_log.getvalue()
    assert "ERROR django.request Internal Server Error: /broken" in log
    assert "Traceback (most recent call last)" in log and "RuntimeError: boom" in log


def test_a_newline_in_a_logged_value_cannot_forge_a_log_line(console_log):
    logger = logging.getLogger("django.request")
    logger.warning("library: %s added ROM", "x.sfc\n2026-01-01 00:00:00 INFO accounts.views OIDC sign-in: account 'root'")
    lines = console_log.getvalue().splitlines()
    assert len(lines) == 1 and "\\n2026-01-01" in lines[0]
