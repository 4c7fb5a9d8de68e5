"""Inline SVG charts for the report: one grouped bar chart per metric (datasets × systems, with
95% interval whiskers) and a line chart of scores by source length.

Plain strings, no plotting library: the page stays one file that opens without a network, and
every label from data goes through :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

# Tableau 10: distinguishable, and readable for the common colour-vision deficiencies.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
_MAX_WIDTH = 1100
_PLOT_HEIGHT = 220
_TOP, _BOTTOM, _LEFT, _RIGHT = 16, 56, 48, 12


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


@dataclass(frozen=True)
class Bar:
    system: int  # index into the chart's systems (its colour)
    score: float
    plus_minus: float | None = None
    significant: bool = False
    note: str = ""  # tooltip text after the numbers


@dataclass(frozen=True)
class Group:
    label: str
    bars: Sequence[Bar]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (``low`` <= 0 <= ``high`` is typical)."""
    span = (high - low) or abs(high) or 1.0
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _legend(systems: Sequence[str], used: set[int], width: int) -> str:
    """HTML legend of the systems drawn (it wraps on its own, unlike SVG text)."""
    items = "".join(
        f'<span class="key"><span class="swatch" style="background:{color(i)}"></span>'
        f"{escape(name)}</span>"
        for i, name in enumerate(systems)
        if i in used
    )
    return f'<div class="legend" style="max-width:{width}px">{items}</div>'


def grouped_bars(caption: str, groups: Sequence[Group], systems: Sequence[str]) -> str:
    """A ``<figure>``: one cluster of bars per group (dataset), one bar per system, whiskers
    for the 95% interval, ``*`` over bars that differ from the baseline."""
    n_bars = max((len(g.bars) for g in groups), default=1) or 1
    bar_w = max(8, min(28, 560 // max(1, n_bars * len(groups))))
    group_w = n_bars * bar_w + 24
    width = min(_MAX_WIDTH, max(360, _LEFT + _RIGHT + group_w * len(groups)))
    group_w = (width - _LEFT - _RIGHT) / max(1, len(groups))
    values = [b.score + (b.plus_minus or 0) for g in groups for b in g.bars] or [1.0]
    # The axis starts at 0 or the lowest score (not the lowest whisker: a symmetric ± around a
    # BLEU of 0.1 would draw a negative axis for a metric that cannot go below 0).
    lows = [b.score for g in groups for b in g.bars] or [0.0]
    ticks = nice_ticks(min(0.0, *lows), max(*values, 1e-9))
    lo, hi = ticks[0], ticks[-1]
    height = _TOP + _PLOT_HEIGHT + _BOTTOM

    def y(v: float) -> float:
        return _TOP + _PLOT_HEIGHT * (hi - v) / ((hi - lo) or 1.0)

    svg = [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(caption)}">'
    ]
    for t in ticks:
        svg.append(
            f'<line x1="{_LEFT}" x2="{width - _RIGHT}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
            f'class="grid"/><text x="{_LEFT - 6}" y="{y(t) + 4:.1f}" text-anchor="end" '
            f'class="tick">{t:g}</text>'
        )
    for gi, group in enumerate(groups):
        x0 = _LEFT + gi * group_w + (group_w - len(group.bars) * bar_w) / 2
        for bi, bar in enumerate(group.bars):
            svg.append(_bar(bar, x0 + bi * bar_w, bar_w, y, systems))
        label_x = _LEFT + gi * group_w + group_w / 2
        svg.append(
            f'<text x="{label_x:.1f}" y="{_TOP + _PLOT_HEIGHT + 18}" text-anchor="middle" '
            f'class="glabel">{escape(_clip(group.label, int(group_w / 7)))}'
            f"<title>{escape(group.label)}</title></text>"
        )
    svg.append("</svg>")
    return (
        f'<figure class="metric-chart"><figcaption>{escape(caption)}</figcaption>'
        f"{''.join(svg)}{_legend(systems, {b.system for g in groups for b in g.bars}, width)}"
        "</figure>"
    )


def _bar(
    bar: Bar, x: float, bar_w: float, y: Callable[[float], float], systems: Sequence[str]
) -> str:
    floor = _TOP + _PLOT_HEIGHT  # whiskers stop at the axis
    top, base = y(max(bar.score, 0.0)), y(min(bar.score, 0.0))
    interval = f" ± {bar.plus_minus:.2f}" if bar.plus_minus is not None else ""
    star = " (differs from the baseline, p < 0.05)" if bar.significant else ""
    tip = f"{systems[bar.system]}: {bar.score:.2f}{interval}{star}{bar.note}"
    parts = [
        f'<g class="bar" data-system="{bar.system}"><title>{escape(tip)}</title>'
        f'<rect x="{x + 1:.1f}" y="{top:.1f}" width="{bar_w - 2:.1f}" '
        f'height="{max(base - top, 0.5):.1f}" fill="{color(bar.system)}"/>'
    ]
    mid = x + bar_w / 2
    if bar.plus_minus:
        y1, y2 = min(y(bar.score - bar.plus_minus), floor), y(bar.score + bar.plus_minus)
        parts.append(
            f'<path d="M{mid:.1f} {y1:.1f}V{y2:.1f}M{mid - 3:.1f} {y1:.1f}h6M{mid - 3:.1f} '
            f'{y2:.1f}h6" class="whisker"/>'
        )
    if bar.significant:
        star_y = y(bar.score + (bar.plus_minus or 0)) - 3
        parts.append(f'<text x="{mid:.1f}" y="{star_y:.1f}" class="star">*</text>')
    parts.append("</g>")
    return "".join(parts)


def _clip(text: str, limit: int) -> str:
    limit = max(limit, 6)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Series:
    system: int
    points: Sequence[float | None]  # one per bucket; None where the bucket is empty


def line_chart(
    caption: str, buckets: Sequence[str], series: Sequence[Series], systems: Sequence[str]
) -> str:
    """Scores by bucket, one line per system (gaps where a bucket has no segments)."""
    width = min(_MAX_WIDTH, max(420, _LEFT + _RIGHT + 90 * len(buckets)))
    height = _TOP + _PLOT_HEIGHT + _BOTTOM
    values = [v for s in series for v in s.points if v is not None] or [1.0]
    ticks = nice_ticks(min(0.0, *values), max(*values, 1e-9))
    lo, hi = ticks[0], ticks[-1]
    step = (width - _LEFT - _RIGHT) / max(1, len(buckets))

    def xy(i: int, v: float) -> str:
        y = _TOP + _PLOT_HEIGHT * (hi - v) / ((hi - lo) or 1.0)
        return f"{_LEFT + step * (i + 0.5):.1f},{y:.1f}"

    svg = [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(caption)}">'
    ]
    for t in ticks:
        y = _TOP + _PLOT_HEIGHT * (hi - t) / ((hi - lo) or 1.0)
        svg.append(
            f'<line x1="{_LEFT}" x2="{width - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{t:g}</text>'
        )
    for i, label in enumerate(buckets):
        svg.append(
            f'<text x="{_LEFT + step * (i + 0.5):.1f}" y="{_TOP + _PLOT_HEIGHT + 18}" '
            f'text-anchor="middle" class="glabel">{escape(label)}</text>'
        )
    for s in series:
        svg.append(_polyline(s, xy, systems))
    svg.append("</svg>")
    return (
        f'<figure class="bucket-chart"><figcaption>{escape(caption)}</figcaption>'
        f"{''.join(svg)}{_legend(systems, {s.system for s in series}, width)}</figure>"
    )


def _polyline(s: Series, xy: Callable[[int, float], str], systems: Sequence[str]) -> str:
    runs: list[list[str]] = [[]]
    dots = []
    for i, v in enumerate(s.points):
        if v is None:
            runs.append([])
            continue
        runs[-1].append(xy(i, v))
        cx, cy = xy(i, v).split(",")
        dots.append(
            f'<circle cx="{cx}" cy="{cy}" r="3.5" fill="{color(s.system)}">'
            f"<title>{escape(systems[s.system])}: {v:.2f}</title></circle>"
        )
    lines = "".join(
        f'<polyline points="{" ".join(run)}" fill="none" stroke="{color(s.system)}" '
        'stroke-width="2"/>'
        for run in runs
        if len(run) > 1
    )
    return f'<g class="series" data-system="{s.system}">{lines}{"".join(dots)}</g>'
