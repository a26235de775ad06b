"""Days of the sign-in history that are over, summarised once so the report need not read them again.

The sign-in health report covers up to 90 days. Counting a large history's rows at every look
would cost as much as the history is long; instead each day that is over (and settled: no
sign-in still being written can land on it) is counted once by the database, with the same
grouped queries the report runs on today's rows, and stored as ``SignInDay`` with its
``SignInDayCount`` and ``SignInDayTime`` rows. A day's rows do not change once it is over
(history rows are written with the time they are written), except when they are deleted:
``prune_signin_history`` and an administrator deleting rows in the admin call ``forget`` for the
days they touched, in the same transaction, and the next report summarises those days again.

Summarising and deleting take ``HistoryLock`` in turn: a summary is never made from rows that a
deletion committed meanwhile removed.
"""

from contextlib import contextmanager
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import HistoryLock, SignInDay, SignInDayCount, SignInDayTime

# A day is summarised once it ended this long ago: longer than any sign-in takes to commit the
# history row it stamped before midnight.
SETTLE = timedelta(minutes=10)
LOCK = "signin_history"


def settled_before(now):
    """The first date that is not over and settled at ``now``; earlier dates may be summarised."""
    return timezone.localdate(now - SETTLE)


@contextmanager
def locked():
    """A transaction holding ``HistoryLock``: summaries are made, and history rows deleted, in turn."""
    with transaction.atomic():
        HistoryLock.objects.get_or_create(name=LOCK)
        # An UPDATE locks the row on PostgreSQL and takes SQLite's write lock: whoever comes
        # second waits until the first commits, then reads what it left.
        HistoryLock.objects.filter(name=LOCK).update(taken_at=timezone.now())
        yield


def forget(first_day, last_day):
    """Drop the summaries of the days from ``first_day`` to ``last_day`` (whatever time zone):
    call it inside ``locked`` with the deletion of history rows of those days."""
    SignInDay.objects.filter(
        day__gte=first_day - timedelta(days=1), day__lte=last_day + timedelta(days=1)
    ).delete()


def ensure(days, time_zone, summarise):
    """Make sure each date of ``days`` has a summary in ``time_zone``.

    ``summarise(first, last)`` counts the history of those dates: ``(counts, times)`` as the
    report's grouped queries answer them, each row with its ``day``. Only days still missing a
    summary are counted, one request at a time.
    """
    if not days:
        return
    if not _missing(days, time_zone):
        return
    with locked():
        missing = _missing(days, time_zone)  # another request may have summarised some meanwhile
        if not missing:
            return
        counts, times = summarise(missing[0], missing[-1])
        made = {day: SignInDay(day=day, time_zone=time_zone) for day in missing}
        SignInDay.objects.bulk_create(made.values())  # sets their primary keys
        SignInDayCount.objects.bulk_create(
            SignInDayCount(
                summary=made[row["day"]],
                **{name: row[name] for name in ("outcome", "method", "provider", "reason", "count")},
            )
            for row in counts
            if row["day"] in made
        )
        SignInDayTime.objects.bulk_create(
            SignInDayTime(
                summary=made[day],
                provider=provider,
                count=values["count"],
                median=values["median"],
                p95=values["p95"],
            )
            for (day, provider), values in times.items()
            if day in made
        )


def _missing(days, time_zone):
    have = set(SignInDay.objects.filter(time_zone=time_zone, day__in=days).values_list("day", flat=True))
    return sorted(day for day in days if day not in have)


def counts(days, time_zone):
    """The summarised days' counts, as the report's grouped count query answers them."""
    return SignInDayCount.objects.filter(summary__time_zone=time_zone, summary__day__in=days).values(
        "outcome", "method", "provider", "reason", "count", day=F("summary__day")
    )


def times(days, time_zone):
    """The summarised days' token request times: ``{(day, provider): {"count", "median", "p95"}}``."""
    rows = SignInDayTime.objects.filter(summary__time_zone=time_zone, summary__day__in=days).values(
        "provider", "count", "median", "p95", day=F("summary__day")
    )
    return {(row["day"], row["provider"]): row for row in rows}
