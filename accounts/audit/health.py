"""The sign-in health report: the sign-in history of the last 7, 30 or 90 days, counted by the database.

Two grouped queries count the history: the rows per day, outcome, method, provider and reason
(one index holds those columns), and per day and provider the median and 95th percentile of the
token request's response time (``provider_ms``). They run on today's rows at each look, and
once on each day that is over, whose answers are kept (``accounts.audit.summaries``), so a
look costs the same whatever the history's size. Python only sorts those few hundred groups
into the report's series:

- sign-ins (a row that is a success or a refusal, apart from sessions ended later) per day, by
  outcome and by way in (each provider, password, link, app token, device …);
- refusals per day by reason, with the sentence the person read and the fix;
- the provider's response time to the token request (median, 95th percentile) per day;
- sessions (and a person's app tokens) the recheck or back-channel logout ended, per day by reason;
- keys the provider rotated (a JWKS refetch that found a new key id), per day by provider.

Days are calendar days in the site's time zone (``TZ``), the last one today.
"""

import math
from datetime import datetime, time, timedelta

from django.db import connections, router
from django.db.models import Aggregate, Count, F, FloatField, Q, Window
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from accounts.audit import summaries
from accounts.audit.reasons import SESSION_ENDINGS, explain
from accounts.models import SignInEvent
from accounts.oidc.provider import providers

PERIODS = (7, 30, 90)
DEFAULT_DAYS = 30
PERCENTILES = {"median": 0.5, "p95": 0.95}

OUTCOME_LABELS = {SignInEvent.Outcome.SUCCESS: "Signed in", SignInEvent.Outcome.REFUSED: "Refused"}
# The key of a series of app tokens revoked for a reason that ends sessions: this, then the reason.
APP_TOKENS = "app_token:"


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)``: the value
    at ``fraction`` of the ordered values, interpolated between the two nearest."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)r) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def period(days, now=None):
    """``(dates, start, end)``: the period's calendar days and the instants that bound it."""
    today = timezone.localdate(now)
    dates = [today - timedelta(days=days - 1 - index) for index in range(days)]
    zone = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(dates[0], time.min), zone)
    end = timezone.make_aware(datetime.combine(today + timedelta(days=1), time.min), zone)
    return dates, start, end


def report(days, now=None):
    """The report as plain data (the JSON API answers it as it is).

    Days that are over come from their summaries (made on the first look after they ended), the
    rest from the history's rows; both are counted by the same grouped queries.
    """
    now = now or timezone.now()
    dates, start, end = period(days, now)
    zone = timezone.get_current_timezone_name()
    settled = summaries.settled_before(now)
    summarised = [day for day in dates if day < settled]
    summaries.ensure(summarised, zone, _summarise)
    live = in_period(max(start, _midnight(settled)), end)
    counts = [*summaries.counts(summarised, zone), *grouped_counts(live)]
    times = {**summaries.times(summarised, zone), **percentile_groups(live)}
    labels = {provider.name: provider.display_name for provider in providers()}
    series = _Series(dates)
    for row in counts:
        _file(series, row, labels)
    return {
        "days": days,
        "first_day": dates[0].isoformat(),
        "last_day": dates[-1].isoformat(),
        "time_zone": timezone.get_current_timezone_name(),
        "dates": [day.isoformat() for day in dates],
        "sign_ins": {
            "by_outcome": series.list("outcome", order=list(OUTCOME_LABELS)),
            "by_way_in": series.list("way_in"),
        },
        "refusals": [
            _explained(entry, series.providers.get(("refusal", entry["key"]), {}), labels)
            for entry in series.list("refusal")
        ],
        "provider_response_ms": response_times(times, dates, labels),
        "sessions_ended": [
            _ended(entry, series.providers.get(("ended", entry["key"]), {}), labels)
            for entry in series.list("ended")
        ],
        "key_rotations": series.list("keys"),
    }


def in_period(start, end):
    return SignInEvent.objects.filter(created_at__gte=start, created_at__lt=end)


def _midnight(day):
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def grouped_counts(rows):
    """How many of ``rows`` there are per day, outcome, method, provider and reason: one query."""
    return list(
        rows.annotate(day=TruncDate("created_at"))
        .values("day", "outcome", "method", "provider", "reason")
        .annotate(count=Count("*"))
        .order_by()
    )


def _summarise(first, last):
    """The history of the dates ``first`` to ``last``, counted for their summaries."""
    rows = in_period(_midnight(first), _midnight(last + timedelta(days=1)))
    return grouped_counts(rows), percentile_groups(rows)


class _Series:
    """Per-day counts of named series, filed under a chart."""

    def __init__(self, dates):
        self.index = {day: position for position, day in enumerate(dates)}
        self.charts = {}
        self.providers = {}

    def add(self, chart, key, label, day, count, provider=""):
        entry = self.charts.setdefault(chart, {}).setdefault(
            key, {"key": key, "label": label, "per_day": [0] * len(self.index), "total": 0}
        )
        entry["per_day"][self.index[day]] += count
        entry["total"] += count
        if provider:
            tally = self.providers.setdefault((chart, key), {})
            tally[provider] = tally.get(provider, 0) + count

    def list(self, chart, order=None):
        entries = self.charts.get(chart, {})
        if order is not None:
            return [entries[key] for key in order if key in entries]
        return sorted(entries.values(), key=lambda entry: (-entry["total"], entry["key"]))


def _file(series, row, labels):
    """Count one group of history rows in the series it belongs to."""
    day, outcome, method, provider, reason, count = (
        row["day"],
        row["outcome"],
        row["method"],
        row["provider"],
        row["reason"],
        row["count"],
    )
    if method == SignInEvent.Method.KEYS:
        series.add("keys", provider, labels.get(provider, provider), day, count)
        return
    if reason in SESSION_ENDINGS and method in (SignInEvent.Method.OIDC, SignInEvent.Method.APP_TOKEN):
        # A session, or the app tokens of a person (accounts.oidc.app_recheck), that the provider ended.
        key = reason if method == SignInEvent.Method.OIDC else f"{APP_TOKENS}{reason}"
        series.add("ended", key, key, day, count, provider)
        return
    if outcome not in OUTCOME_LABELS:
        return  # a change (role, link, token created), not a sign-in
    series.add("outcome", outcome, OUTCOME_LABELS[outcome], day, count)
    key, label = way_in(method, provider, labels)
    series.add("way_in", key, label, day, count)
    if outcome == SignInEvent.Outcome.REFUSED:
        series.add("refusal", reason, reason, day, count, provider)


def way_in(method, provider, labels):
    """The key and label of a way in: each provider on its own, else the method."""
    if method == SignInEvent.Method.OIDC:
        return f"oidc:{provider}", labels.get(
            provider, provider
        ) if provider else "OpenID Connect (no provider)"
    label = SignInEvent.Method(method).label if method in SignInEvent.Method.values else method
    return method, label


def _explained(entry, providers_seen, labels, reason=None, app_tokens=False):
    """A reason's series with its sentence (naming the provider most of its rows came from) and fix."""
    provider = min(providers_seen.items(), key=lambda item: (-item[1], item[0]))[0] if providers_seen else ""
    sentence, fix = explain(
        reason or entry["key"], labels.get(provider, provider) or "the provider", app_tokens
    )
    return {**entry, "sentence": sentence, "fix": fix}


def _ended(entry, providers_seen, labels):
    """A series of ended sessions (or of a person's app tokens), explained, with what ended them."""
    app_tokens = entry["key"].startswith(APP_TOKENS)
    reason = entry["key"].removeprefix(APP_TOKENS)
    return {
        **_explained(entry, providers_seen, labels, reason, app_tokens),
        "reason": reason,
        "ended": "app tokens" if app_tokens else "session",
        "ended_by": SESSION_ENDINGS[reason],
    }


# --- the token request's response time ---------------------------------------------------------
def response_times(groups, dates, labels):
    """Per provider: each day's median and 95th percentile of ``provider_ms`` and how many rows."""
    index = {day: position for position, day in enumerate(dates)}
    found = {}
    for (day, provider), values in groups.items():
        entry = found.setdefault(
            provider,
            {
                "key": provider,
                "label": labels.get(provider, provider),
                **{name: [None] * len(dates) for name in PERCENTILES},
                "count": [0] * len(dates),
            },
        )
        for name in PERCENTILES:
            entry[name][index[day]] = round(values[name], 3)
        entry["count"][index[day]] = values["count"]
    return sorted(found.values(), key=lambda entry: entry["key"])


def percentile_groups(rows):
    """``{(day, provider): {"count", "median", "p95"}}`` of the ``rows`` that have a ``provider_ms``."""
    timed = rows.filter(provider_ms__isnull=False).annotate(day=TruncDate("created_at"))
    if connections[router.db_for_read(SignInEvent)].vendor == "postgresql":
        return _percentiles_postgresql(timed)
    return percentiles_by_rank(timed)


def _percentiles_postgresql(timed):
    groups = (
        timed.values("day", "provider")
        .annotate(
            count=Count("*"),
            **{name: PercentileCont("provider_ms", fraction) for name, fraction in PERCENTILES.items()},
        )
        .order_by()
    )
    return {(group["day"], group["provider"]): group for group in groups}


def percentiles_by_rank(timed):
    """What ``percentile_cont`` answers, from databases without it (SQLite): in one query, each
    group's values ranked by the database, of which only the one or two at each percentile's
    position come back; the interpolation between them is done here."""
    group = [F("day"), F("provider")]
    ranked = timed.annotate(
        rank=Window(RowNumber(), partition_by=group, order_by=F("provider_ms").asc()),
        size=Window(Count("*"), partition_by=group),
    )
    wanted = Q()
    for fraction in PERCENTILES.values():
        # percentile_cont's position among n values is fraction * (n - 1), counted from 0: the
        # values around it are those ranked (from 1) floor(position) + 1 and ceil(position) + 1,
        # the ranks strictly between position and position + 2.
        position = (F("size") - 1) * fraction
        wanted |= Q(rank__gt=position) & Q(rank__lt=position + 2)
    picked = {}
    for row in ranked.filter(wanted).values("day", "provider", "rank", "size", "provider_ms").order_by():
        picked.setdefault((row["day"], row["provider"], row["size"]), {})[row["rank"]] = row["provider_ms"]
    groups = {}
    for (day, provider, size), values in picked.items():
        groups[(day, provider)] = {
            "count": size,
            **{name: _interpolate(values, (size - 1) * fraction) for name, fraction in PERCENTILES.items()},
        }
    return groups


def _interpolate(values, position):
    """The value at ``position`` (from 0) between the ranked values around it (ranks from 1)."""
    low, high = math.floor(position), math.ceil(position)
    below, above = values[low + 1], values[high + 1]
    return below + (above - below) * (position - low)
