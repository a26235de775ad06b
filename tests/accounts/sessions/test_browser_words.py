"""A session's browser and system in words, read from its User-Agent by ua-parser."""

import pytest

from accounts.sessions.browsers import UNKNOWN, in_words
from tests.accounts.sessions.conftest import EDGE_WINDOWS, FIREFOX_LINUX, SAFARI_IPHONE


@pytest.mark.parametrize(
    "user_agent, words",
    [
        (FIREFOX_LINUX, "Firefox on Linux"),
        (SAFARI_IPHONE, "Mobile Safari on iOS"),
        (EDGE_WINDOWS, "Edge on Windows"),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
            "Mobile Safari/537.36",
            "Chrome Mobile on Android",
        ),
        ("curl/8.5.0", "curl"),
        ("", UNKNOWN),
        ("<script>alert(1)</script>", UNKNOWN),
    ],
)
def test_a_user_agent_reads_as_browser_on_system(user_agent, words):
    assert in_words(user_agent) == words


def test_each_user_agent_is_parsed_once_per_process():
    in_words.cache_clear()
    for _ in range(3):
        in_words(FIREFOX_LINUX)
    assert (in_words.cache_info().misses, in_words.cache_info().hits) == (1, 2)
