"""Line charts as inline SVG, drawn on the server: readable without JavaScript, scaled by the browser."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40
#: colour-blind-safe colours with at least 4.5:1 contrast on white
COLOURS = ("#0b5394", "#b45309", "#15803d", "#7e22ce", "#b91c1c", "#0f766e")


@dataclass(frozen=True)
class Line:
    label: str
    points: Sequence[tuple[datetime, float]]


@dataclass(frozen=True)
class Mark:
    """A horizontal threshold line (a rule's level)."""

    label: str
    value: float


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 0.1
    step = max(magnitude, round(raw / magnitude) * magnitude)
    start = (low // step) * step
    ticks: list[float] = []
    value = start
    while value <= high + step / 2 and len(ticks) < 12:
        if value >= low - step / 2:
            ticks.append(round(value, 6))
        value += step
    return ticks


def line_chart(
    chart_id: str,
    title: str,
    lines: Sequence[Line],
    marks: Sequence[Mark],
    *,
    format_value: Callable[[float], str],
    format_time: Callable[[datetime], str],
    unit: str,
) -> Markup:
    """An SVG chart with a title and description for screen readers; empty lines are left out."""
    fmt_v, fmt_t = format_value, format_time  # for the reader's locale and zone
    shown = [line for line in lines if line.points]
    values = [v for line in shown for _, v in line.points] + [m.value for m in marks]
    times = [t for line in shown for t, _ in line.points]
    if not shown:
        return Markup("")
    low, high = min(values), max(values)
    if high - low < 1e-9:
        low, high = low - 1, high + 1
    pad = (high - low) * 0.08
    low, high = low - pad, high + pad
    t0, t1 = min(times), max(times)
    span = max((t1 - t0).total_seconds(), 1.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: datetime) -> float:
        return LEFT + (t - t0).total_seconds() / span * plot_w

    def y(v: float) -> float:
        return TOP + (high - v) / (high - low) * plot_h

    parts: list[str] = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        'xmlns="http://www.w3.org/2000/svg" class="chart" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
    ]
    summary = "; ".join(
        f"{line.label}: {fmt_v(min(v for _, v in line.points))}–{fmt_v(max(v for _, v in line.points))} {unit}"
        for line in shown
    )
    parts.append(f'<desc id="{chart_id}-d">{escape(summary)}</desc>')
    parts.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#ffffff" stroke="#6b7280"/>'
    )
    for tick in _ticks(low, high):
        ty = y(tick)
        if TOP <= ty <= TOP + plot_h:
            parts.append(
                f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#e5e7eb"/>'
            )
            parts.append(
                f'<text x="{LEFT - 6}" y="{ty + 5:.1f}" text-anchor="end" font-size="14" fill="#111827">'
                f"{escape(fmt_v(tick))}</text>"
            )
    for i in range(3):
        moment = t0 + (t1 - t0) * (i / 2)
        anchor = ("start", "middle", "end")[i]
        parts.append(
            f'<text x="{x(moment):.1f}" y="{HEIGHT - 12}" text-anchor="{anchor}" font-size="14" fill="#111827">'
            f"{escape(fmt_t(moment))}</text>"
        )
    for mark in marks:
        my = y(mark.value)
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{my:.1f}" y2="{my:.1f}" stroke="#b91c1c" '
            'stroke-dasharray="6 4" stroke-width="2"/>'
        )
        parts.append(
            f'<text x="{LEFT + plot_w - 4}" y="{my - 4:.1f}" text-anchor="end" font-size="14" fill="#7f1d1d">'
            f"{escape(mark.label)}</text>"
        )
    for index, line in enumerate(shown):
        colour = COLOURS[index % len(COLOURS)]
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in line.points)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="3" points="{path}"/>')
    parts.append("</svg>")
    # Every text inside was escaped above; the rest is markup built from numbers.
    return Markup("".join(parts))  # noqa: S704


def to_cm(value: float, unit: str) -> float | None:
    """A water level in centimetres, for gauges of both sides on one chart (None if not a length)."""
    factors = {"cm": 1.0, "mm": 0.1, "m": 100.0}
    factor = factors.get(unit.strip().lower())
    return None if factor is None else value * factor
