"""Small, dependency-free SVG line charts for self-contained HTML reports (no scripts, no CDN).

`line_chart` returns an inline `<svg>` element as a string (for HTML5 pages, so no xmlns);
embed it in a page as trusted markup.
Points are (x, y) pairs; a y of None leaves a gap in the line.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Point", "line_chart", "nice_ticks", "percent"]

Point = tuple[float, float | None]

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies and in greyscale.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
BUDGET_COLOUR = "#D55E00"
MARKERS_UP_TO = 60  # draw a dot on every point when a series has at most this many


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
    width: int = 640,
    height: int = 260,
) -> str:
    """An SVG line chart of named series, with an optional dashed reference line at y = hline."""
    frame = _frame(series, y_max=y_max, hline=hline, width=width, height=height)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="chart" '
        f'font-family="system-ui, sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="{frame.left}" y="16" font-size="13" font-weight="600">{escape(title)}</text>',
        *_axes(frame, x_label=x_label, y_label=y_label, x_format=x_format, y_format=y_format),
    ]
    if hline is not None:
        parts.extend(_reference_line(frame, hline, hline_label))
    for index, (name, points) in enumerate(series.items()):
        parts.extend(_series_marks(frame, points, PALETTE[index % len(PALETTE)], name))
    if len(series) > 1:
        parts.extend(_legend(frame, list(series)))
    parts.append("</svg>")
    return "\n".join(parts)


def _frame(
    series: Mapping[str, Sequence[Point]],
    *,
    y_max: float | None,
    hline: float | None,
    width: int,
    height: int,
) -> _Frame:
    """The plot area and the data ranges, widened to round tick values."""
    xs = [x for points in series.values() for x, _ in points]
    ys = [y for points in series.values() for _, y in points if y is not None]
    if hline is not None:
        ys.append(hline)
    x_min, x_max = min(xs, default=0.0), max(xs, default=1.0)
    top = y_max if y_max is not None else nice_ticks(0.0, max(ys, default=1.0) or 1.0)[-1]
    legend_room = 18 if len(series) > 1 else 0
    return _Frame(
        left=58.0,
        right=width - 20.0,
        top=28.0,
        bottom=height - 40.0 - legend_room,
        x_min=x_min,
        x_max=x_max if x_max > x_min else x_min + 1.0,
        y_min=0.0,
        y_max=top if top > 0 else 1.0,
    )


def _axes(
    frame: _Frame,
    *,
    x_label: str,
    y_label: str,
    x_format: Callable[[float], str],
    y_format: Callable[[float], str],
) -> list[str]:
    """Grid lines, tick labels and axis titles."""
    parts = []
    for tick in nice_ticks(frame.y_min, frame.y_max):
        if tick > frame.y_max + 1e-12:
            continue
        y = frame.y(tick)
        parts.append(
            f'<line x1="{frame.left:.1f}" y1="{y:.1f}" x2="{frame.right:.1f}" y2="{y:.1f}" '
            'stroke="#ddd" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{frame.left - 6:.1f}" y="{y + 4:.1f}" text-anchor="end" fill="#444">'
            f"{escape(y_format(tick))}</text>"
        )
    for tick in nice_ticks(frame.x_min, frame.x_max, count=6):
        if not frame.x_min - 1e-9 <= tick <= frame.x_max + 1e-9:
            continue
        x = frame.x(tick)
        parts.append(
            f'<text x="{x:.1f}" y="{frame.bottom + 15:.1f}" text-anchor="middle" fill="#444">'
            f"{escape(x_format(tick))}</text>"
        )
    parts.append(
        f'<line x1="{frame.left:.1f}" y1="{frame.bottom:.1f}" x2="{frame.right:.1f}" '
        f'y2="{frame.bottom:.1f}" stroke="#888" stroke-width="1"/>'
    )
    middle = (frame.left + frame.right) / 2
    parts.append(
        f'<text x="{middle:.1f}" y="{frame.bottom + 32:.1f}" text-anchor="middle" fill="#444">'
        f"{escape(x_label)}</text>"
    )
    centre_y = (frame.top + frame.bottom) / 2
    parts.append(
        f'<text x="14" y="{centre_y:.1f}" text-anchor="middle" fill="#444" '
        f'transform="rotate(-90 14 {centre_y:.1f})">{escape(y_label)}</text>'
    )
    return parts


def _reference_line(frame: _Frame, value: float, label: str) -> list[str]:
    """A dashed horizontal line at y = value with its label above the right end."""
    y = frame.y(value)
    parts = [
        f'<line x1="{frame.left:.1f}" y1="{y:.1f}" x2="{frame.right:.1f}" y2="{y:.1f}" '
        f'stroke="{BUDGET_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4" class="hline"/>'
    ]
    if label:
        label_y = y - 5 if y - frame.top > 14 else y + 14  # below the line when at the top
        parts.append(
            f'<text x="{frame.right:.1f}" y="{label_y:.1f}" text-anchor="end" '
            f'fill="{BUDGET_COLOUR}">{escape(label)}</text>'
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


def _legend(frame: _Frame, names: list[str]) -> list[str]:
    """One swatch and name per series, in a row under the x-axis title."""
    parts = []
    x = frame.left
    y = frame.bottom + 50
    for index, name in enumerate(names):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="12" height="4" fill="{colour}"/>')
        parts.append(f'<text x="{x + 16:.1f}" y="{y - 4:.1f}" fill="#444">{escape(name)}</text>')
        x += 28 + _text_width(name)
    return parts


def _text_width(text: str) -> int:
    """About how wide `text` is at the 11px font: CJK characters take twice a Latin one's room."""
    return sum(12 if unicodedata.east_asian_width(ch) in "WF" else 7 for ch in text)
