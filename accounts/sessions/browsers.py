"""A session's browser and system in words ("Firefox on Linux"), read from its User-Agent.

ua-parser (uap-python) holds the rules: the uap-core project's list of browsers, systems and
devices, kept up to date with the browsers people use. Parsing runs a few hundred regular
expressions, so each User-Agent is read once per process and its words kept (a person's sessions
share a handful of them).
"""

from functools import lru_cache

import ua_parser

UNKNOWN = "Unknown browser"


@lru_cache(maxsize=1024)
def in_words(user_agent):
    """``"Firefox on Linux"``, ``"Mobile Safari on iOS"``, ``"curl"``; ``UNKNOWN`` when unreadable."""
    if not user_agent:
        return UNKNOWN
    result = ua_parser.parse(user_agent)
    browser = result.user_agent.family if result.user_agent else ""
    system = result.os.family if result.os else ""
    if browser and system:
        return f"{browser} on {system}"
    return browser or (f"{UNKNOWN} on {system}" if system else UNKNOWN)
