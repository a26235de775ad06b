"""An unexpected error: a plain page for the person, the traceback in the operator's log; and no
value logged, from a URL or from a provider, can start a log line of its own."""

import io
import logging
import logging.config

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import path

from tests.conftest import sign_in


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
    logger.warning("library: %s added ROM", "x.sfc\n2026-01-01 00:00:00 INFO accounts.oidc.views OIDC sign-in: account 'root'")
    lines = console_log.getvalue().splitlines()
    assert len(lines) == 1 and "\\n2026-01-01" in lines[0]


# --- no logged value starts a line of its own --------------------------------------------------
def configured_formatter():
    """The formatter the console handler uses, built from settings.LOGGING as Django builds it."""
    config = django_settings.LOGGING["formatters"]["plain"]
    factory = logging.config.DictConfigurator({}).resolve(config["()"])
    return factory(fmt=config["format"])


FORGED = " 2026-12-01 22:00:00,000 INFO accounts.oidc.views password sign-in: account 'root' via password"


def logged_lines(caplog, prefix):
    formatter = configured_formatter()
    return [formatter.format(record) for record in caplog.records if record.name.startswith(prefix)]


@pytest.mark.django_db
@pytest.mark.parametrize("separator", ["\n", "\r", "\u2028", "\x1b[2K\r"], ids=["LF", "CR", "LS", "ANSI"])
def test_a_provider_subject_cannot_start_a_log_line(separator, authentik, caplog):
    authentik.subjects["carol"] = "carol-sub" + separator + "x"
    caplog.set_level("INFO", logger="accounts")
    sign_in(Client(), authentik, "carol")
    lines = logged_lines(caplog, "accounts")
    assert lines and all(len(line.splitlines()) == 1 and "\x1b" not in line for line in lines), lines


@pytest.mark.django_db
@pytest.mark.parametrize(
    "separator", ["%0A", "%0D", "%E2%80%A8", "%1B%5B2K%0D"], ids=["LF", "CR", "LS", "ANSI"]
)
def test_an_anonymous_url_cannot_start_a_line_in_djangos_request_log(separator, client, caplog):
    # django.request logs every 404 with the decoded path: anyone can put text there (Django
    # escapes it itself since 5.2.2; the formatter is the second line of defence).
    caplog.set_level("WARNING", logger="django.request")
    assert client.get("/nope" + separator + FORGED.replace(" ", "%20")).status_code == 404
    lines = logged_lines(caplog, "django.request")
    assert lines and all(len(line.splitlines()) == 1 and "\x1b" not in line for line in lines), lines
