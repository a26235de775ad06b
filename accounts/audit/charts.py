"""Charts of the sign-in health report as SVG shapes: stacked bars per day, and lines.

The geometry is computed here and drawn by the template ``admin/_svg_chart.html``: the page
needs no JavaScript, and every shape carries its numbers in a ``<title>`` (the browser's
tooltip) as well as in the table under the chart.
"""

import math
from dataclasses import dataclass, field

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 40
# Okabe and Ito's palette, told apart with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#999999"]
OUTCOME_COLOURS = {"success": "#009E73", "refused": "#D55E00"}
MAX_DATE_LABELS = 10


@dataclass
class Chart:
    """One chart: its title, what the axes count, its shapes, its legend and its table."""

    id: str
    title: str
    description: str
    unit: str
    dates: list
    legend: list = field(default_factory=list)  # [{"label", "colour", "dashed"}]
    bars: list = field(default_factory=list)  # [{"x", "y", "width", "height", "colour", "title"}]
    lines: list = field(default_factory=list)  # [{"segments", "colour", "dashed", "title", "dots"}]
    y_ticks: list = field(default_factory=list)  # [{"y", "label"}]
    x_labels: list = field(default_factory=list)  # [{"x", "label"}]
    table_head: list = field(default_factory=list)
    table_rows: list = field(default_factory=list)
    reasons: list = field(default_factory=list)  # [{"key", "colour", "total", "sentence", "fix", …}]
    empty: bool = True
    width: int = WIDTH
    height: int = HEIGHT
    plot: dict = field(default_factory=dict)


def nice_ceiling(value):
    """The smallest of 1, 2, 5 times a power of ten that is at least ``value`` (1 at least)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _frame(chart, top_value, integer):
    plot = {"left": LEFT, "top": TOP, "right": WIDTH - RIGHT, "bottom": HEIGHT - BOTTOM}
    plot["width"], plot["height"] = plot["right"] - plot["left"], plot["bottom"] - plot["top"]
    chart.plot = plot
    ceiling = nice_ceiling(top_value)
    steps = 5 if ceiling % 5 == 0 or not integer else 4 if ceiling % 4 == 0 else 2 if ceiling % 2 == 0 else 1
    for index in range(steps + 1):
        value = ceiling * index / steps
        label = f"{value:g}" if not integer or value == int(value) else ""
        chart.y_ticks.append({"y": _y(plot, value, ceiling), "label": label})
    slot = plot["width"] / len(chart.dates)
    every = max(1, math.ceil(len(chart.dates) / MAX_DATE_LABELS))
    for index, day in enumerate(chart.dates):
        if (len(chart.dates) - 1 - index) % every == 0:
            chart.x_labels.append({"x": round(plot["left"] + slot * (index + 0.5), 1), "label": day[5:]})
    return plot, ceiling, slot


def _y(plot, value, ceiling):
    return round(plot["bottom"] - plot["height"] * value / ceiling, 1)


def stacked_bars(id, title, description, dates, series, colours=None):
    """Bars per day, one segment per series (``{"key", "label", "per_day"}``), stacked in order."""
    chart = Chart(id, title, description, "count", dates)
    colour = {
        entry["key"]: (colours or {}).get(entry["key"], PALETTE[index % len(PALETTE)])
        for index, entry in enumerate(series)
    }
    for entry in series:
        chart.legend.append(
            {"key": entry["key"], "label": entry["label"], "colour": colour[entry["key"]], "dashed": False}
        )
    totals = [sum(entry["per_day"][day] for entry in series) for day in range(len(dates))]
    chart.empty = not any(totals)
    plot, ceiling, slot = _frame(chart, max(totals, default=0), integer=True)
    width = max(1.0, round(slot * 0.8, 1))
    for day, date in enumerate(dates):
        base = 0
        for entry in series:
            count = entry["per_day"][day]
            if not count:
                continue
            top, bottom = _y(plot, base + count, ceiling), _y(plot, base, ceiling)
            chart.bars.append(
                {
                    "x": round(plot["left"] + slot * day + (slot - width) / 2, 1),
                    "y": top,
                    "width": width,
                    "height": round(bottom - top, 1),
                    "colour": colour[entry["key"]],
                    "title": f"{date}: {entry['label']} {count}",
                }
            )
            base += count
    chart.table_head = ["Day", *(entry["label"] for entry in series), "Total"]
    chart.table_rows = [
        [date, *(entry["per_day"][day] for entry in series), totals[day]] for day, date in enumerate(dates)
    ]
    return chart


def lines(id, title, description, dates, series, unit):
    """Lines per series (``{"label", "values", "dashed", "colour"}``; a None value is a gap)."""
    chart = Chart(id, title, description, unit, dates)
    values = [value for entry in series for value in entry["values"] if value is not None]
    chart.empty = not values
    plot, ceiling, slot = _frame(chart, max(values, default=0), integer=False)
    for entry in series:
        chart.legend.append(
            {
                "key": entry["label"],
                "label": entry["label"],
                "colour": entry["colour"],
                "dashed": entry["dashed"],
            }
        )
        # A day without a value breaks the line: it is drawn as segments of consecutive days.
        segments, points = [[]], []
        for day, value in enumerate(entry["values"]):
            if value is None:
                segments.append([])
                continue
            x = round(plot["left"] + slot * (day + 0.5), 1)
            point = {
                "x": x,
                "y": _y(plot, value, ceiling),
                "title": f"{dates[day]}: {entry['label']} {value:g} {unit}",
            }
            points.append(point)
            segments[-1].append(point)
        chart.lines.append(
            {
                "segments": [
                    " ".join(f"{p['x']},{p['y']}" for p in segment)
                    for segment in segments
                    if len(segment) > 1
                ],
                "dots": points,
                "colour": entry["colour"],
                "dashed": entry["dashed"],
                "title": entry["label"],
            }
        )
    chart.table_head = ["Day", *(entry["label"] for entry in series)]
    chart.table_rows = [
        [date, *("—" if entry["values"][day] is None else f"{entry['values'][day]:g}" for entry in series)]
        for day, date in enumerate(dates)
    ]
    return chart


def charts(report):
    """The report's charts, in the order the page shows them."""
    dates = report["dates"]
    sign_ins = report["sign_ins"]
    latency = []
    for index, provider in enumerate(report["provider_response_ms"]):
        colour = PALETTE[index % len(PALETTE)]
        latency.append(
            {
                "label": f"{provider['label']} median",
                "values": provider["median"],
                "dashed": False,
                "colour": colour,
            }
        )
        latency.append(
            {
                "label": f"{provider['label']} 95th percentile",
                "values": provider["p95"],
                "dashed": True,
                "colour": colour,
            }
        )
    refusals = stacked_bars(
        "refusals",
        "Refusals per day by reason",
        "Each bar is a day's refused sign-ins, one colour per reason; each reason's "
        "sentence and fix are listed under the chart.",
        dates,
        report["refusals"],
    )
    ended = stacked_bars(
        "sessions-ended",
        "Sessions ended by the recheck and by back-channel logout",
        "Each bar is a day's sessions ended after sign-in, one colour per reason (a "
        "reason starting app_token: is a person's app tokens revoked for it).",
        dates,
        report["sessions_ended"],
    )
    for chart, entries in ((refusals, report["refusals"]), (ended, report["sessions_ended"])):
        chart.reasons = [{**entry, "colour": item["colour"]} for entry, item in zip(entries, chart.legend)]
    return [
        stacked_bars(
            "outcome",
            "Sign-ins per day by outcome",
            "Each bar is a day's sign-ins: signed in below, refused on top.",
            dates,
            sign_ins["by_outcome"],
            OUTCOME_COLOURS,
        ),
        stacked_bars(
            "way-in",
            "Sign-ins per day by way in",
            "Each bar is a day's sign-ins, one colour per provider or method.",
            dates,
            sign_ins["by_way_in"],
        ),
        refusals,
        lines(
            "latency",
            "Token request response time per provider (milliseconds)",
            "Per day, the median (solid line) and the 95th percentile (dashed) of how long each "
            "provider took to answer the sign-in's token request.",
            dates,
            latency,
            "ms",
        ),
        ended,
        stacked_bars(
            "key-rotations",
            "Keys the provider rotated",
            "Each bar is a day's key rotations seen: a refetch of the provider's keys that found "
            "a new key id.",
            dates,
            report["key_rotations"],
        ),
    ]
