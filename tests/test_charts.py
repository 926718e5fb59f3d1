"""The inline SVG line chart used by HTML reports."""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest

from deshi.charts import line_chart, nice_ticks, percent


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_chart_is_well_formed_svg_with_one_line_per_series() -> None:
    svg = line_chart(
        {"accuracy": [(500, 0.5), (1000, 0.7)], "automation": [(500, 0.1), (1000, 0.4)]},
        title="Learning",
        y_label="share",
    )

    root = _parse(svg)
    assert root.tag == "svg"
    assert len(root.findall("polyline")) == 2
    assert root.find("title") is not None and root.find("title").text == "Learning"  # type: ignore[union-attr]
    assert ">accuracy<" in svg and ">automation<" in svg  # legend for two series


def test_missing_values_leave_gaps_in_the_line() -> None:
    svg = line_chart({"error": [(1, 0.1), (2, None), (3, 0.2), (4, 0.3)]}, title="t", y_label="y")

    lines = _parse(svg).findall("polyline")
    assert [len(line.attrib["points"].split()) for line in lines] == [1, 2]


def test_reference_line_is_drawn_with_its_label() -> None:
    svg = line_chart(
        {"error": [(1, 0.002), (2, 0.004)]},
        title="t",
        y_label="y",
        hline=0.01,
        hline_label="budget 1%",
        y_format=percent,
    )

    assert len(_parse(svg).findall("line[@class='hline']")) == 1
    assert "budget 1%" in svg


def test_text_is_escaped() -> None:
    svg = line_chart({"a<b": [(0, 1.0)]}, title="<script>x</script>", y_label="&")

    assert "<script>" not in svg
    _parse(svg)


def test_values_above_y_max_stay_inside_the_plot() -> None:
    svg = line_chart({"a": [(0, 0.5), (1, 5.0)]}, title="t", y_label="y", y_max=1.0, height=200)

    ys = [float(y) for y in re.findall(r'cy="([\d.]+)"', svg)]
    assert min(ys) >= 0 and max(ys) <= 200


def test_empty_and_single_point_series_still_render() -> None:
    _parse(line_chart({}, title="nothing", y_label="y"))
    _parse(line_chart({"a": [(3, 0.5)]}, title="one", y_label="y"))
    _parse(line_chart({"a": [(3, None)]}, title="gap only", y_label="y"))


def test_ticks_are_round_and_cover_the_range() -> None:
    assert nice_ticks(0, 1) == [0, 0.25, 0.5, 0.75, 1.0]
    assert nice_ticks(0, 13083, count=6) == [0, 5000, 10000, 15000]
    assert percent(0.25) == "25%" and percent(0.125) == "12.5%"


def test_legend_leaves_room_for_japanese_names() -> None:
    names = ["人のみ", "アシスト", "AI主導"]
    svg = line_chart({name: [(1, 1.0), (2, 2.0)] for name in names}, title="t", y_label="y")
    root = _parse(svg)
    swatches = [float(rect.attrib["x"]) for rect in root.findall("rect")]
    labels = {text.text: float(text.attrib["x"]) for text in root.findall("text")}
    for name, next_swatch in zip(names, swatches[1:], strict=False):
        assert next_swatch - labels[name] >= 11 * len(name)  # a CJK glyph is ~11px wide at 11px


def _text_extent(text: ET.Element, size: float) -> tuple[float, float, float, float]:
    """(left, right, top, bottom) of a <text>, generously estimated: 0.64 em a character (DejaVu
    Sans, the usual fallback for system-ui on Linux, has 0.636 em digits), 1 em a CJK one."""
    content = text.text or ""
    length = sum(
        size if unicodedata.east_asian_width(ch) in "WF" else 0.64 * size for ch in content
    )
    x, y = float(text.attrib["x"]), float(text.attrib["y"])
    anchor = text.attrib.get("text-anchor", "start")
    start = {"start": x, "middle": x - length / 2, "end": x - length}[anchor]
    left, right, top, bottom = start, start + length, y - 0.8 * size, y + 0.25 * size
    transform = text.attrib.get("transform")
    if transform is None:
        return left, right, top, bottom
    match = re.fullmatch(r"rotate\(-90 ([\d.]+) ([\d.]+)\)", transform)
    assert match, f"unexpected transform {transform!r}"
    cx, cy = float(match[1]), float(match[2])
    # Turned a quarter anticlockwise about (cx, cy): the text runs upwards.
    return cx + top - cy, cx + bottom - cy, cy - (right - cx), cy - (left - cx)


def _texts_outside_the_view_box(svg: str) -> list[str]:
    root = _parse(svg)
    _, _, width, height = (float(v) for v in root.attrib["viewBox"].split())
    outside = []
    for text in root.iter("text"):
        size = float(text.attrib.get("font-size", root.attrib["font-size"]))
        left, right, top, bottom = _text_extent(text, size)
        if left < 0 or right > width or top < 0 or bottom > height:
            outside.append(
                f"{text.text!r} spans x {left:.0f}..{right:.0f}, y {top:.0f}..{bottom:.0f}"
            )
    return outside


def _weeks_axis(labels: list[str]) -> Callable[[float], str]:
    def label(x: float) -> str:
        index = round(x)
        return labels[index - 1] if abs(x - index) < 1e-9 and 1 <= index <= len(labels) else ""

    return label


WEEKS = [f"2026-W{week}" for week in range(41, 46)]
CJK_NAMES = [
    "誤りと運用のコスト",
    "削減額の累計",
    "人による処理時間",
    "アシストの処理時間",
    "AI主導の処理時間",
]
CHARTS = {
    "last week label at the right edge": dict(
        series={"accuracy": [(float(i), 0.5) for i in range(1, 6)]},
        title="Learning curve: agent accuracy per week",
        y_label="accuracy",
        x_label="ISO week",
        x_format=_weeks_axis(WEEKS),
    ),
    "long labels at both edges": dict(
        series={"a": [(1.0, 1.0), (2.0, 2.0)]},
        title="t",
        y_label="y",
        x_format=_weeks_axis(["2026-09-28 to 2026-10-04", "2026-10-05 to 2026-10-11"]),
    ),
    "wide y-axis numbers": dict(
        series={"money saved": [(1.0, 100.0), (2.0, 1_500_000.0)]},
        title="Cumulative savings and costs (JPY)",
        y_label="JPY",
    ),
    "a legend of long Japanese names": dict(
        series={name: [(1.0, 1.0), (2.0, 2.0)] for name in CJK_NAMES},
        title="削減額とコストの累計（円）",
        y_label="円",
        x_label="ISO週",
        x_format=_weeks_axis(WEEKS[:2]),
    ),
    "long Japanese titles": dict(
        series={"誤り率": [(1.0, 0.01)]},
        title="週ごとの監査済み自動完了誤り率（空白は監査なし）と、誤り予算と比べた信頼区間の上限、監査した件数の推移",
        y_label="自動完了した項目のうち監査で誤りと判定された項目の割合",
        hline=0.02,
        hline_label="予算 ε = 2.00%",
    ),
}


@pytest.mark.parametrize("options", CHARTS.values(), ids=CHARTS.keys())
def test_every_text_stays_inside_the_view_box(options: dict[str, Any]) -> None:
    assert _texts_outside_the_view_box(line_chart(**options)) == []


def test_a_label_that_fits_stays_centred_on_its_tick() -> None:
    svg = line_chart(**CHARTS["last week label at the right edge"])

    anchors = {t.text: t.attrib["text-anchor"] for t in _parse(svg).iter("text") if t.text in WEEKS}
    assert anchors == dict.fromkeys(WEEKS[:-1], "middle") | {WEEKS[-1]: "end"}
