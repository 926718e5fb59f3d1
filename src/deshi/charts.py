"""Small, dependency-free SVG line charts for self-contained HTML reports (no scripts, no CDN).

`line_chart` returns an inline `<svg>` element as a string (for HTML5 pages, so no xmlns);
embed it in a page as trusted markup.
Points are (x, y) pairs; a y of None leaves a gap in the line.
Text is kept inside the viewBox by estimating its width (`_text_width`): the left margin grows
with the y tick labels, an edge x tick label is anchored at its tick instead of centred, the
legend wraps, and a title too long for its room is set smaller.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Point", "line_chart", "nice_ticks", "percent"]

Point = tuple[float, float | None]
_LegendEntry = tuple[str, float, int]  # series name, x of its swatch, row

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies and in greyscale.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
BUDGET_COLOUR = "#D55E00"
MARKERS_UP_TO = 60  # draw a dot on every point when a series has at most this many
FONT_SIZE = 11
TITLE_SIZE = 13
PLOT_LEFT = 58.0  # the plot's left edge, unless the y tick labels need more room
Y_TITLE_X = 14  # baseline of the rotated y-axis title; its glyphs reach to about x = 17
Y_LABELS_FROM = 20  # y tick labels start right of that title
TICK_GAP = 6  # between a y tick label and the axis
LEGEND_ROW = 18
EDGE = 2  # text keeps this far inside the viewBox


@dataclass(frozen=True, slots=True)
class _Frame:
    """Maps data coordinates to SVG coordinates inside the plot area."""

    left: float
    right: float
    top: float
    bottom: float
    x_min: float
    x_max: float
    y_min: float
    y_max: float
    view_width: float  # the viewBox's, which every label must stay inside

    def x(self, value: float) -> float:
        """SVG x of a data x."""
        return self.left + (value - self.x_min) / (self.x_max - self.x_min) * (
            self.right - self.left
        )

    def y(self, value: float) -> float:
        """SVG y of a data y (clamped to the plot area)."""
        share = (value - self.y_min) / (self.y_max - self.y_min)
        return self.bottom - min(max(share, 0.0), 1.0) * (self.bottom - self.top)


def percent(value: float) -> str:
    """Format a share as a percentage with at most two decimals and no trailing zeros."""
    return f"{value * 100:.2f}".rstrip("0").rstrip(".") + "%"


def _number(value: float) -> str:
    """Format a tick value compactly (1, 2.5, 1,500)."""
    return f"{value:,.0f}" if math.isclose(value, round(value), abs_tol=1e-9) else f"{value:,.3g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values covering [low, high] (steps of 1, 2, 2.5 or 5 times 10^k)."""
    if high <= low:
        high = low + 1.0
    raw_step = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw_step)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def line_chart(
    series: Mapping[str, Sequence[Point]],
    *,
    title: str,
    y_label: str,
    y_max: float | None = None,
    hline: float | None = None,
    hline_label: str = "",
    x_label: str = "items",
    y_format: Callable[[float], str] = _number,
    x_format: Callable[[float], str] = _number,
    x_ticks: Sequence[float] | None = None,
    width: int = 640,
    height: int = 260,
) -> str:
    """An SVG line chart of named series, with an optional dashed reference line at y = hline.

    The x-axis is labelled at `x_ticks` when given, else at about six round values.
    """
    y_top = _y_top(series, y_max=y_max, hline=hline)
    y_ticks = {tick: y_format(tick) for tick in _y_ticks(y_top)}
    frame, legend = _layout(series, y_top, y_ticks.values(), width=width, height=height)
    title_size = _fitted_size(title, width - EDGE - frame.left, TITLE_SIZE)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="chart" '
        f'font-family="system-ui, sans-serif" font-size="{FONT_SIZE}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{frame.left:.1f}" y="16" font-size="{title_size:g}" font-weight="600">'
        f"{escape(title)}</text>",
        *_axes(frame, y_ticks, x_ticks, x_label=x_label, y_label=y_label, x_format=x_format),
    ]
    if hline is not None:
        parts.extend(_reference_line(frame, hline, hline_label))
    for index, (name, points) in enumerate(series.items()):
        parts.extend(_series_marks(frame, points, PALETTE[index % len(PALETTE)], name))
    parts.extend(_legend(frame, legend))
    parts.append("</svg>")
    return "\n".join(parts)


def _y_top(
    series: Mapping[str, Sequence[Point]], *, y_max: float | None, hline: float | None
) -> float:
    """The top of the y range: `y_max`, else the round tick above every value and the hline."""
    ys = [y for points in series.values() for _, y in points if y is not None]
    if hline is not None:
        ys.append(hline)
    top = y_max if y_max is not None else nice_ticks(0.0, max(ys, default=1.0) or 1.0)[-1]
    return top if top > 0 else 1.0


def _y_ticks(y_top: float) -> list[float]:
    """The round y values from 0 to `y_top` that get a grid line and a label."""
    return [tick for tick in nice_ticks(0.0, y_top) if tick <= y_top + 1e-12]


def _layout(
    series: Mapping[str, Sequence[Point]],
    y_top: float,
    y_labels: Iterable[str],
    *,
    width: int,
    height: int,
) -> tuple[_Frame, list[_LegendEntry]]:
    """The plot area (right of the y tick labels, above the x-axis labels and the legend's rows)
    with the data ranges, and where the legend's entries go."""
    left = max(PLOT_LEFT, Y_LABELS_FROM + max(map(_text_width, y_labels), default=0) + TICK_GAP)
    legend = _legend_layout(list(series), left=left, width=width) if len(series) > 1 else []
    legend_rows = max((row for _, _, row in legend), default=-1) + 1
    xs = [x for points in series.values() for x, _ in points]
    x_min, x_max = min(xs, default=0.0), max(xs, default=1.0)
    frame = _Frame(
        left=left,
        right=width - 20.0,
        top=28.0,
        bottom=height - 40.0 - LEGEND_ROW * legend_rows,
        x_min=x_min,
        x_max=x_max if x_max > x_min else x_min + 1.0,
        y_min=0.0,
        y_max=y_top,
        view_width=width,
    )
    return frame, legend


def _axes(
    frame: _Frame,
    y_ticks: Mapping[float, str],
    x_ticks: Sequence[float] | None,
    *,
    x_label: str,
    y_label: str,
    x_format: Callable[[float], str],
) -> list[str]:
    """Grid lines, tick labels and axis titles."""
    parts = []
    for tick, label in y_ticks.items():
        y = frame.y(tick)
        parts.append(
            f'<line x1="{frame.left:.1f}" y1="{y:.1f}" x2="{frame.right:.1f}" y2="{y:.1f}" '
            'stroke="#ddd" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{frame.left - TICK_GAP:.1f}" y="{y + 4:.1f}" text-anchor="end" fill="#444">'
            f"{escape(label)}</text>"
        )
    if x_ticks is None:
        x_ticks = nice_ticks(frame.x_min, frame.x_max, count=6)
    for tick in x_ticks:
        if not frame.x_min - 1e-9 <= tick <= frame.x_max + 1e-9:
            continue
        x, label = frame.x(tick), x_format(tick)
        parts.append(
            f'<text x="{x:.1f}" y="{frame.bottom + 15:.1f}" '
            f'text-anchor="{_tick_anchor(x, label, frame.view_width)}" fill="#444">'
            f"{escape(label)}</text>"
        )
    parts.append(
        f'<line x1="{frame.left:.1f}" y1="{frame.bottom:.1f}" x2="{frame.right:.1f}" '
        f'y2="{frame.bottom:.1f}" stroke="#888" stroke-width="1"/>'
    )
    middle = (frame.left + frame.right) / 2
    x_size = _size_attribute(_fitted_size(x_label, frame.right - frame.left))
    parts.append(
        f'<text x="{middle:.1f}" y="{frame.bottom + 32:.1f}" text-anchor="middle" fill="#444"'
        f"{x_size}>{escape(x_label)}</text>"
    )
    centre_y = (frame.top + frame.bottom) / 2
    y_size = _size_attribute(_fitted_size(y_label, frame.bottom - frame.top))
    parts.append(
        f'<text x="{Y_TITLE_X}" y="{centre_y:.1f}" text-anchor="middle" fill="#444"{y_size} '
        f'transform="rotate(-90 {Y_TITLE_X} {centre_y:.1f})">{escape(y_label)}</text>'
    )
    return parts


def _tick_anchor(x: float, label: str, view_width: float) -> str:
    """Centre a tick label on its tick, unless that crosses the viewBox's edge: then end (or
    start) it at the tick, which keeps it inside whatever the font's real widths are."""
    half = _text_width(label) / 2
    if x + half > view_width - EDGE:
        return "end"
    if x - half < EDGE:
        return "start"
    return "middle"


def _reference_line(frame: _Frame, value: float, label: str) -> list[str]:
    """A dashed horizontal line at y = value with its label above the right end."""
    y = frame.y(value)
    parts = [
        f'<line x1="{frame.left:.1f}" y1="{y:.1f}" x2="{frame.right:.1f}" y2="{y:.1f}" '
        f'stroke="{BUDGET_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4" class="hline"/>'
    ]
    if label:
        label_y = y - 5 if y - frame.top > 14 else y + 14  # below the line when at the top
        size = _size_attribute(_fitted_size(label, frame.right - frame.left))
        parts.append(
            f'<text x="{frame.right:.1f}" y="{label_y:.1f}" text-anchor="end" '
            f'fill="{BUDGET_COLOUR}"{size}>{escape(label)}</text>'
        )
    return parts


def _series_marks(frame: _Frame, points: Sequence[Point], colour: str, name: str) -> list[str]:
    """Polylines for the runs of defined points, and dots when the series is short."""
    parts = []
    for run in _defined_runs(points):
        coordinates = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in run)
        parts.append(
            f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="2" '
            f'stroke-linejoin="round"><title>{escape(name)}</title></polyline>'
        )
        if len(points) <= MARKERS_UP_TO or len(run) == 1:
            parts.extend(
                f'<circle cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="2.5" fill="{colour}"/>'
                for x, y in run
            )
    return parts


def _defined_runs(points: Sequence[Point]) -> list[list[tuple[float, float]]]:
    """Split the points into maximal runs without a None y."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None:
            runs.append([])
        else:
            runs[-1].append((x, y))
    return [run for run in runs if run]


def _legend_layout(names: list[str], *, left: float, width: int) -> list[_LegendEntry]:
    """(name, x, row) of each series' swatch: in rows from `left`, wrapping at the right edge."""
    entries = []
    x, row = left, 0
    for name in names:
        if x > left and x + 16 + _text_width(name) > width - EDGE:
            x, row = left, row + 1
        entries.append((name, x, row))
        x += 28 + _text_width(name)
    return entries


def _legend(frame: _Frame, entries: list[_LegendEntry]) -> list[str]:
    """One swatch and name per series, in rows under the x-axis title."""
    parts = []
    for index, (name, x, row) in enumerate(entries):
        colour = PALETTE[index % len(PALETTE)]
        y = frame.bottom + 50 + LEGEND_ROW * row
        parts.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="12" height="4" fill="{colour}"/>')
        parts.append(f'<text x="{x + 16:.1f}" y="{y - 4:.1f}" fill="#444">{escape(name)}</text>')
    return parts


def _text_width(text: str, size: float = FONT_SIZE) -> float:
    """About how wide `text` is at `size` px, erring wide (a font's digits are ~0.64 em, a
    CJK character 1 em): no browser measures it for us, and too wide only costs a little room."""
    return (
        sum(12 if unicodedata.east_asian_width(ch) in "WF" else 7 for ch in text) * size / FONT_SIZE
    )


def _fitted_size(text: str, room: float, size: float = FONT_SIZE) -> float:
    """`size`, or less (to a tenth of a px) when `text` would be wider than `room` at it."""
    width = _text_width(text, size)
    return size if width <= room else math.floor(size * room / width * 10) / 10


def _size_attribute(size: float) -> str:
    """A font-size attribute, only where `size` is not the chart's (usual output unchanged)."""
    return "" if size == FONT_SIZE else f' font-size="{size:g}"'
