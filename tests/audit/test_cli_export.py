"""`deshi audit list | export | verify-export`: filtered reading, an export with its proof, and
a tampered export that fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from keyed import KEY, keyed_factory
from typer.testing import CliRunner

from deshi.audit import ObjectRef, record_event
from deshi.cli import audit


def _cli() -> typer.Typer:
    app = typer.Typer()
    audit.register(app)
    return app


@pytest.fixture
def keyed_log(db_url: str, engine: object, monkeypatch: pytest.MonkeyPatch) -> str:
    """Twelve keyed events about items, alternating two actions; the CLI has the key."""
    monkeypatch.setenv("DESHI_AUDIT_KEY", KEY.decode())
    with keyed_factory(db_url, KEY) as factory:
        for i in range(12):
            with factory.begin() as session:
                record_event(
                    session, actor="cli:ops", action="item.review" if i % 2 else "item.claim",
                    obj=ObjectRef("items", str(i)), after={"label": f"label_{i}"},
                )  # fmt: skip
    return db_url


def test_list_filters_and_prints_utc(keyed_log: str) -> None:
    result = CliRunner().invoke(
        _cli(), ["audit", "list", "--db", keyed_log, "--action", "item.review", "--limit", "4"]
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "item." in line]
    assert len(lines) == 4 and all("item.review" in line and " UTC " in line for line in lines)
    assert "More: --before 6" in result.output
    as_json = CliRunner().invoke(
        _cli(), ["audit", "list", "--db", keyed_log, "--search", "label_11", "--json"]
    )
    assert [e["seq"] for e in json.loads(as_json.output)["events"]] == [12]


def test_a_bad_filter_exits_2(keyed_log: str) -> None:
    result = CliRunner().invoke(_cli(), ["audit", "list", "--db", keyed_log, "--since", "soon"])
    assert result.exit_code == 2 and "--since" in result.output


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_verifies_and_a_tampered_one_fails(
    keyed_log: str, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"export.{fmt}"
    made = CliRunner().invoke(
        _cli(), ["audit", "export", "--db", keyed_log, "--format", fmt, "--out", str(out)]
    )
    assert made.exit_code == 0 and "Exported 12 events (1–12)" in made.output, made.output
    checked = CliRunner().invoke(
        _cli(), ["audit", "verify-export", str(out), "--db", keyed_log, "--strict"]
    )
    assert checked.exit_code == 0, checked.output
    assert "links were checked end to end" in checked.output
    assert "the filters select exactly them" in checked.output
    out.write_text(out.read_text(encoding="utf-8").replace("label_7", "label_8"), encoding="utf-8")
    tampered = CliRunner().invoke(_cli(), ["audit", "verify-export", str(out)])
    assert tampered.exit_code == 1 and "event 8 was altered" in tampered.output


def test_without_the_key_strict_fails(
    keyed_log: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "export.jsonl"
    CliRunner().invoke(_cli(), ["audit", "export", "--db", keyed_log, "--out", str(out)])
    monkeypatch.delenv("DESHI_AUDIT_KEY")
    loose = CliRunner().invoke(_cli(), ["audit", "verify-export", str(out), "--json"])
    strict = CliRunner().invoke(_cli(), ["audit", "verify-export", str(out), "--strict"])
    report = json.loads(loose.output)
    assert loose.exit_code == 0 and report["seal"] == "unchecked" and not report["fully_checked"]
    assert strict.exit_code == 1 and "need the audit key" in strict.output


def test_messages_in_japanese_and_an_export_to_stdout(keyed_log: str, tmp_path: Path) -> None:
    printed = CliRunner().invoke(
        _cli(), ["audit", "export", "--db", keyed_log, "--out", "-", "--action", "item.claim"]
    )
    out = tmp_path / "claims.jsonl"
    out.write_text(printed.output, encoding="utf-8")
    checked = CliRunner().invoke(_cli(), ["audit", "verify-export", str(out), "--lang", "ja"])
    assert checked.exit_code == 0, checked.output
    assert "6 件のイベント（1–11）" in checked.output and "封印は正当です" in checked.output
    bad = CliRunner().invoke(_cli(), ["audit", "verify-export", str(out), "--lang", "fr"])
    assert bad.exit_code == 2
