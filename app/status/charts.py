"""Chart geometry for the status page, drawn as inline SVG by the template: no script, no chart
library, nothing fetched. Pure: values in, coordinates and labels out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

WIDTH, HEIGHT = 600, 200
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 10, 22  # room for the axis labels


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # the colour class in the page's style sheet
    values: Sequence[float | None]  # None: no data at that point (a gap in the line)


@dataclass(frozen=True)
class Tick:
    at: float  # pixel position along the axis
    label: str


@dataclass(frozen=True)
class Line:
    name: str
    css: str
    path: str  # SVG path data
    total: float  # of the values, for the legend and tests


@dataclass(frozen=True)
class Slot:
    """A column of the plot under one x value: hovering it shows its values."""

    x: float
    width: float
    title: str


@dataclass
class LineChart:
    lines: list[Line]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    slots: list[Slot] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    css: str


@dataclass
class BarChart:
    bars: list[Bar]
    y_ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 × 10^k not below ``value`` (at least 1): a round axis maximum."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= value)


def _y_ticks(maximum: float, top: float, bottom: float) -> list[Tick]:
    """Ticks at whole steps of a nice maximum: 5 → 0..5 by 1, 20 → by 5, 100 → by 20."""
    mantissa = round(maximum / 10 ** math.floor(math.log10(maximum)))
    steps = {1: 5, 2: 4, 5: 5}[mantissa] if maximum > 2 else int(maximum)
    return [
        Tick(bottom - (bottom - top) * i / steps, f"{maximum * i / steps:g}")
        for i in range(steps + 1)
    ]


def _x_label(moment: datetime, span: timedelta) -> str:
    if span <= timedelta(days=2):
        return moment.strftime("%H:%M")
    return moment.strftime("%b %d")


def _x_ticks(starts: Sequence[datetime], x_of: list[float], zone: tzinfo) -> list[Tick]:
    """Ticks on whole local hours (short ranges) or local midnights (long ones), about six."""
    span = starts[-1] - starts[0] if starts else timedelta()
    local = [s.astimezone(zone) for s in starts]
    if span <= timedelta(days=2):
        every = max(1, round(span / timedelta(hours=1) / 6))
        chosen = [i for i, m in enumerate(local) if m.hour % every == 0]
    else:
        days = max(1, round(span / timedelta(days=1) / 6))
        chosen = [i for i, m in enumerate(local) if m.hour == 0 and m.toordinal() % days == 0]
    return [Tick(x_of[i], _x_label(local[i], span)) for i in chosen]


def anchor(tick: Tick, left: float, right: float) -> str:
    """How to align an x label so one at either end of the axis stays inside the chart."""
    return "end" if tick.at > right - 25 else "start" if tick.at < left + 25 else "middle"


def line_chart(
    starts: Sequence[datetime],
    series: Sequence[Series],
    *,
    zone: tzinfo,
    slot_title: str = "{when}",
) -> LineChart:
    """Lines over time, one point per entry of ``starts``; the y axis from 0 to a round maximum."""
    chart = LineChart(lines=[], y_ticks=[], x_ticks=[])
    count = len(starts)
    plot_width = chart.right - chart.left
    step = plot_width / max(count - 1, 1)
    x_of = [chart.left + i * step for i in range(count)]
    maximum = nice_ceiling(max((v for s in series for v in s.values if v is not None), default=0))

    def y_of(value: float) -> float:
        return chart.bottom - (chart.bottom - chart.top) * value / maximum

    for s in series:
        commands, pen_down = [], False
        for x, value in zip(x_of, s.values, strict=True):
            if value is None:
                pen_down = False
                continue
            commands.append(f"{'L' if pen_down else 'M'}{x:.1f},{y_of(value):.1f}")
            pen_down = True
        total = sum(v for v in s.values if v is not None)
        chart.lines.append(Line(s.name, s.css, " ".join(commands), total))
    chart.y_ticks = _y_ticks(maximum, chart.top, chart.bottom)
    chart.x_ticks = _x_ticks(starts, x_of, zone)
    for i, start in enumerate(starts):
        values = ", ".join(
            f"{s.name} {'—' if s.values[i] is None else f'{s.values[i]:g}'}" for s in series
        )
        when = start.astimezone(zone).strftime("%a %b %d %H:%M")
        chart.slots.append(
            Slot(x_of[i] - step / 2, step, f"{slot_title.format(when=when)}: {values}")
        )
    return chart


def bar_chart(labels: Sequence[str], values: Sequence[int], css: Sequence[str]) -> BarChart:
    """One bar per label; the y axis from 0 to a round maximum."""
    chart = BarChart(bars=[], y_ticks=[])
    maximum = nice_ceiling(max(values, default=0))
    slot = (chart.right - chart.left) / max(len(values), 1)
    for i, (label, value, cls) in enumerate(zip(labels, values, css, strict=True)):
        height = (chart.bottom - chart.top) * value / maximum
        chart.bars.append(
            Bar(
                x=chart.left + i * slot + slot * 0.15,
                y=chart.bottom - height,
                width=slot * 0.7,
                height=height,
                label=label,
                value=value,
                css=cls,
            )
        )
    chart.y_ticks = _y_ticks(maximum, chart.top, chart.bottom)
    return chart
