"""`deshi kpis | report | warnings` on a real database file, in English and Japanese."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kpi_world import KpiWorld, answer_waiting_item
from typer.testing import CliRunner

from deshi.cli.main import app
from deshi.db import create_db_engine, make_session_factory

runner = CliRunner()
WIDE = {"COLUMNS": "220"}


def test_kpis_prints_a_table_per_week_and_the_recommendation(db_url: str, world: KpiWorld) -> None:
    result = runner.invoke(app, ["kpis", "--process", str(world.process), "--db", db_url], env=WIDE)
    assert result.exit_code == 0, result.output
    for week in world.weeks:
        assert week in result.output
    assert "overall" in result.output
    first, last = world.weeks[0], world.weeks[-1]
    assert f"Recommendation for {first} to {last} ({len(world.weeks)} week(s)): " in result.output


def test_kpis_json_parses_and_filters_by_arm(db_url: str, world: KpiWorld) -> None:
    args = ["kpis", "--process", str(world.process), "--db", db_url, "--json", "--arm", "ai_led"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["arm"] == "ai_led"
    assert body["overall"]["items"] == sum(1 for spec in world.specs if spec.arm == "ai_led")
    assert [week["week"] for week in body["weeks"]] == world.weeks
    assert body["overall"]["product"]["automation"]["n"] == body["overall"]["items"]


def test_kpis_period_and_unknown_process(db_url: str, world: KpiWorld) -> None:
    last = world.weeks[-1]
    monday = min(s.created_at for s in world.specs if s.week == last).date().isoformat()
    args = ["kpis", "--process", str(world.process), "--db", db_url, "--json", "--from", monday]
    body = json.loads(runner.invoke(app, args).output)
    assert [week["week"] for week in body["weeks"]] == [last]
    missing = runner.invoke(app, ["kpis", "--process", "999", "--db", db_url])
    assert missing.exit_code == 1
    assert "process 999 not found" in missing.output


def test_report_writes_a_self_contained_page(db_url: str, world: KpiWorld, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    week = world.weeks[-1]
    args = ["report", "--process", str(world.process), "--week", week, "--out", str(out)]
    result = runner.invoke(app, [*args, "--db", db_url])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert html.count("<svg") >= 3
    assert "http://" not in html and "https://" not in html
    assert 'id="recommendation"' in html


def test_report_in_japanese_and_an_unknown_language(
    db_url: str, world: KpiWorld, tmp_path: Path
) -> None:
    args = ["report", "--process", str(world.process), "--week", world.weeks[-1], "--db", db_url]
    out = tmp_path / "report-ja.html"
    result = runner.invoke(app, [*args, "--out", str(out), "--lang", "ja"])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert '<html lang="ja">' in html and "の週次レポート</h1>" in html
    assert "<h2>早期警告</h2>" in html and "Early warnings" not in html
    refused = runner.invoke(app, [*args, "--out", str(tmp_path / "fr.html"), "--lang", "fr"])
    assert refused.exit_code == 1
    assert "unsupported language 'fr'" in refused.output
    assert not (tmp_path / "fr.html").exists()


def test_warnings_lists_no_owner(db_url: str, world: KpiWorld) -> None:
    args = ["warnings", "--process", str(world.orphan_process), "--db", db_url]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "no_owner" in result.output


def test_kpis_in_japanese_translates_the_table_and_the_recommendation(
    db_url: str, world: KpiWorld
) -> None:
    args = ["kpis", "--process", str(world.process), "--db", db_url, "--lang", "ja"]
    result = runner.invoke(app, args, env=WIDE)
    assert result.exit_code == 0, result.output
    assert "業務プロセス" in result.output and "信頼区間" in result.output  # the title
    assert "案件数" in result.output and "純削減額（USD）" in result.output  # the headers
    assert "全体" in result.output and "overall" not in result.output
    assert "週）の推奨：停止" in result.output  # 5 wrong in 16 audits break a 1 % budget
    assert "エラー予算を超過しました" in result.output  # a reason, explained from its code
    assert "Recommendation" not in result.output and "Error budget" not in result.output
    for week in world.weeks:
        assert week in result.output


def test_kpis_json_is_the_same_in_every_language(db_url: str, world: KpiWorld) -> None:
    args = ["kpis", "--process", str(world.process), "--db", db_url, "--json"]
    english, japanese = runner.invoke(app, args), runner.invoke(app, [*args, "--lang", "ja"])
    assert english.exit_code == japanese.exit_code == 0
    assert json.loads(japanese.output) == json.loads(english.output)


def test_warnings_in_japanese_keep_the_code(db_url: str, world: KpiWorld) -> None:
    args = ["warnings", "--process", str(world.orphan_process), "--db", db_url, "--lang", "ja"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "no_owner" in result.output  # the stable code, for scripts
    assert "このプロセスにはオーナーがいません。" in result.output
    assert result.output.startswith("警告 ") and "The process has no owner" not in result.output


@pytest.mark.parametrize("command", ["kpis", "warnings"])
def test_kpis_and_warnings_refuse_an_unknown_language_in_one_line(
    db_url: str, world: KpiWorld, command: str
) -> None:
    args = [command, "--process", str(world.process), "--db", db_url, "--lang", "fr"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.output == "Error: unsupported language 'fr'; use one of en, ja\n"


def test_report_links_back_into_the_app_at_the_base_url(
    db_url: str, world: KpiWorld, tmp_path: Path
) -> None:
    out = tmp_path / "linked.html"
    args = ["report", "--process", str(world.process), "--week", world.weeks[-1], "--db", db_url]
    result = runner.invoke(app, [*args, "--out", str(out), "--base-url", "https://deshi.test/"])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert f'href="https://deshi.test/ui/processes/{world.process}"' in html
    assert 'href="https://deshi.test/ui/help/metrics"' in html


def test_kpis_json_repeats_from_the_cache_and_follows_a_new_review(
    db_url: str, world: KpiWorld
) -> None:
    args = ["kpis", "--process", str(world.process), "--db", db_url, "--json"]
    first = runner.invoke(app, args)
    again = runner.invoke(app, args)
    assert first.exit_code == again.exit_code == 0, first.output
    assert again.output == first.output
    engine = create_db_engine(db_url)
    answer_waiting_item(make_session_factory(engine), world)
    engine.dispose()
    after = json.loads(runner.invoke(app, args).output)
    reviews = json.loads(first.output)["overall"]["flywheel"]["reviews"]["value"]
    assert after["overall"]["flywheel"]["reviews"]["value"] == reviews + 1
