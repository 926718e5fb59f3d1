"""The inline SVG line chart used by HTML reports."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from deshi.sim.charts import line_chart, nice_ticks, percent


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
