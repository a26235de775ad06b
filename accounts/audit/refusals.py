"""How many refusals (but for the signed-in person's own) reach the sign-in history.

Anyone can make the site refuse something (a wrong password, a forged sign-in callback, an
unknown break-glass link) as fast as it answers, and each refusal was a row. From one client
(``romm_site.addresses.address_bucket``: an IPv4 address or an IPv6 /64) the first
``SIGNIN_HISTORY_REFUSALS_PER_MINUTE`` refusals within a minute of its first are a row each, so
the history still shows an attack and how it began; the next one is a row saying that the rest
of that minute's are counted, not recorded; those are counted in the cache, and the log says how
many at the 1st, 10th, 100th, ... of them. Every refusal keeps its own line in the operator's
log, as before. A refusal of the signed-in person's own (its account or username is theirs) is
never bounded: those are few. Any other refusal is bounded by address as for anonymous callers,
session cookie or not: /api/token and HTTP Basic name any username, so a signed-in guesser
would otherwise write one row per guess.
"""

import hashlib
import logging

from django.conf import settings

from romm_site import counters
from romm_site.addresses import address_bucket

logger = logging.getLogger(__name__)

WINDOW = 60
ROW, SUMMARY, DROP = "row", "summary", "drop"
SUMMARY_REASON = "too_many_refusals"


def bounded(request, user=None, username=""):
    """True when this refusal counts toward the bound: it is not the signed-in person's own.

    ``user`` / ``username``: whom the refusal names (``accounts.audit.history.record``).
    """
    if request is None:
        return False
    person = getattr(request, "user", None)
    if person is None or not person.is_authenticated:
        return True
    if user is not None:
        return user.pk != person.pk
    return not username or username != person.get_username()


def verdict(request):
    """ROW, SUMMARY (write the row that stands for the rest) or DROP, for one more refusal."""
    bucket = address_bucket(request)
    count = counters.increment(f"history-refusals:{hashlib.sha256(bucket.encode()).hexdigest()}", WINDOW)
    limit = settings.SIGNIN_HISTORY_REFUSALS_PER_MINUTE
    if count <= limit:
        return ROW
    unrecorded = count - limit
    if unrecorded == 1:
        logger.warning(
            "sign-in history: more than %d refusals from %s within a minute; the rest of this minute's "
            "are in this log only", limit, bucket,
        )
        return SUMMARY
    if _power_of_ten(unrecorded):
        logger.warning("sign-in history: %d refusals from %s this minute not recorded one by one", unrecorded, bucket)
    return DROP


def summary(reason):
    """The detail of the row that stands for the refusals not recorded one by one."""
    limit = settings.SIGNIN_HISTORY_REFUSALS_PER_MINUTE
    return (
        f"More than {limit} refusals from this address within a minute (this one: {reason or 'refused'}); "
        "the rest of that minute's are counted in the log, not recorded here one by one."
    )


def _power_of_ten(number):
    while number % 10 == 0:
        number //= 10
    return number == 1
