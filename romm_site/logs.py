"""Log formatting: one event is one line, whatever text a person or a provider put into it."""

import logging
import re

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(match):
    return repr(match.group())[1:-1]


class OneLineFormatter(logging.Formatter):
    """Escapes control characters in the message, so a newline in a ROM name, a path or a
    provider's answer cannot start a line that looks like another event. A traceback, added
    after the message, keeps its own lines."""

    def formatMessage(self, record):
        record.message = CONTROL.sub(_escape, record.message)
        return super().formatMessage(record)
