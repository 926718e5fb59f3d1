from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from keyed import KEY, OTHER_KEY, append, keyed_factory, rewrite_without_key
from typer.testing import CliRunner, Result

from deshi.audit.chain import GENESIS_HASH
from deshi.cli.main import app

Tamper = Callable[[str], None]


def _deshi(*args: str, key: bytes | None = KEY, key_file: Path | None = None) -> Result:
    env = {"DESHI_AUDIT_KEY": key.decode() if key else None}
    if key_file is not None:
        env = {"DESHI_AUDIT_KEY": None, "DESHI_AUDIT_KEY_FILE": str(key_file)}
    return CliRunner().invoke(app, list(args), env=env)


def _keyed_log(db_url: str, count: int = 8) -> None:
    with keyed_factory(db_url, KEY) as factory:
        append(factory, count)


def test_anchor_then_verify_against_it(db_url: str, engine: object, tmp_path: Path) -> None:
    _keyed_log(db_url)
    out = tmp_path / "head.json"
    anchored = _deshi("audit", "anchor", "--out", str(out), "--db", db_url)
    assert anchored.exit_code == 0, anchored.output
    assert "Anchored event 8" in anchored.output
    _keyed_log(db_url, 2)
    checked = _deshi("audit", "verify", "--anchor", str(out), "--db", db_url)
    assert checked.exit_code == 0, checked.output
    assert "intact: 10 events" in checked.output
    assert "Keyed (HMAC-SHA256) from event 1 on." in checked.output
    assert "Holds event 8 as anchored at" in checked.output and "(2 events since)" in checked.output


def test_verify_fails_when_the_newest_events_were_deleted(
    db_url: str, engine: object, tmp_path: Path, tamper: Tamper
) -> None:
    _keyed_log(db_url)
    out = tmp_path / "head.json"
    assert _deshi("audit", "anchor", "--out", str(out), "--db", db_url).exit_code == 0
    tamper("DELETE FROM audit_events WHERE seq > 5")
    plain = _deshi("audit", "verify", "--db", db_url)
    assert plain.exit_code == 0  # a shorter chain is a valid chain: only the anchor knows
    checked = _deshi("audit", "verify", "--anchor", str(out), "--db", db_url, "--json")
    assert checked.exit_code == 1
    outcome = json.loads(checked.stdout)
    assert outcome["ok"] is False and outcome["first_bad_seq"] == 6
    assert "events 6 to 8 were deleted" in outcome["reason"]
    assert outcome["anchor"]["seq"] == 8


def test_verify_fails_on_a_chain_rewritten_without_the_key(
    db_url: str, engine: object, tmp_path: Path, tamper: Tamper
) -> None:
    _keyed_log(db_url)
    out = tmp_path / "head.json"
    assert _deshi("audit", "anchor", "--out", str(out), "--db", db_url).exit_code == 0
    tamper("SELECT 1")
    with keyed_factory(db_url) as factory:
        rewrite_without_key(factory, from_seq=1, after={"i": 7}, prev_hash=GENESIS_HASH)
    checked = _deshi("audit", "verify", "--anchor", str(out), "--db", db_url)
    assert checked.exit_code == 1
    assert "event 8 is not the event anchored" in checked.output


def test_an_anchor_of_another_key_is_refused(db_url: str, engine: object, tmp_path: Path) -> None:
    _keyed_log(db_url)
    keys = tmp_path / "keys"
    keys.write_text(f"# rotated\n{OTHER_KEY.decode()}\n{KEY.decode()}\n")
    out = tmp_path / "head.json"
    assert (
        _deshi("audit", "anchor", "--out", str(out), "--db", db_url, key_file=keys).exit_code == 0
    )
    checked = _deshi("audit", "verify", "--anchor", str(out), "--db", db_url)
    assert checked.exit_code == 1
    assert "which is not configured: refused" in checked.output


def test_anchor_without_a_key_exits_1(db_url: str, engine: object, tmp_path: Path) -> None:
    result = _deshi("audit", "anchor", "--out", str(tmp_path / "a.json"), "--db", db_url, key=None)
    assert result.exit_code == 1
    assert "needs an audit key" in result.output
    assert not (tmp_path / "a.json").exists()


def test_anchor_to_stdout_is_the_document(db_url: str, engine: object) -> None:
    _keyed_log(db_url, 3)
    result = _deshi("audit", "anchor", "--out", "-", "--db", db_url)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["format"] == "deshi-audit-anchor/1" and document["seq"] == 3


def test_an_unreadable_anchor_exits_2(db_url: str, engine: object, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{}")
    result = _deshi("audit", "verify", "--anchor", str(tmp_path / "bad.json"), "--db", db_url)
    assert result.exit_code == 2
    assert "not an audit anchor" in result.output
    missing = _deshi("audit", "verify", "--anchor", str(tmp_path / "none.json"), "--db", db_url)
    assert missing.exit_code == 2 and "cannot read the anchor" in missing.output
