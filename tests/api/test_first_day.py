"""The first-day guide, run as a newcomer would: every `deshi` command of docs/first-day.md in
order, then the HTTP calls it names, from an empty database to a reviewer clearing an item.

The commands are read from the guide itself, so a command that stops working, or a guide that
stops matching the CLI, fails here."""

from __future__ import annotations

import csv
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from deshi.cli.main import app as cli
from deshi.settings import Settings
from deshi.web import create_app

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "first-day.md"
BANKING77 = Path(__file__).resolve().parents[2] / "src" / "deshi" / "data" / "banking77"
CHEAP_HASHING = "fast-insecure"
LABELS = (
    "card_arrival", "lost_or_stolen_card", "exchange_rate", "top_up_failed",
    "card_payment_fee_charged", "balance_not_updated_after_bank_transfer", "pin_blocked",
    "cash_withdrawal_charge",
    "transfer_not_received_by_recipient", "declined_card_payment",
)  # fmt: skip
LIVE_PER_LABEL = 5  # each intent's last rows arrive live; the rest is the history


def guide_commands() -> list[list[str]]:
    """The `$ deshi …` lines of the guide's console blocks, in order, as argument lists."""
    return [
        shlex.split(line)[1:] for line in re.findall(r"^\$ (deshi .+)$", GUIDE.read_text(), re.M)
    ]


def _history(path: Path) -> list[tuple[str, str]]:
    """The team's history, written to `path`: BANKING77's rows of ten intents (the test's
    stand-in for an export), but the last few of each, returned as the live items."""
    taken: dict[str, list[str]] = {label: [] for label in LABELS}
    with (BANKING77 / "train.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            bucket = taken.get(row["category"])
            if bucket is not None:
                bucket.append(row["text"])
    rows = [(text, label) for label, texts in taken.items() for text in texts[:-LIVE_PER_LABEL]]
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return [(text, label) for label, texts in taken.items() for text in texts[-LIVE_PER_LABEL:]]


def test_the_guide_takes_a_newcomer_from_nothing_to_a_cleared_item(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DESHI_DATABASE_URL", db_url)
    monkeypatch.setenv("DESHI_PASSWORD_HASH_PROFILE", CHEAP_HASHING)
    unseen = _history(tmp_path / "history.csv")

    outputs: dict[str, Any] = {}  # the JSON each command printed, by the command's first words
    commands = guide_commands()
    assert [c[:2] for c in commands][:3] == [["init", "--admin-email"], ["department", "create"],
                                             ["process", "create"]]  # fmt: skip
    for command in commands:
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 0, f"deshi {shlex.join(command)}\n{result.output}"
        if "--json" in command:
            outputs[" ".join(command[:3])] = json.loads(result.stdout.strip().splitlines()[-1])

    imported = outputs["import history.csv --process"]
    with (tmp_path / "history.csv").open(encoding="utf-8") as f:
        written = sum(1 for _ in csv.DictReader(f))
    assert imported["rows"] == written  # identical rows are imported once
    assert (
        imported["imported"] + imported["repeated_ids"] + imported["already_imported"]
        <= imported["rows"]
    )
    assert imported["imported"] > 0.9 * imported["rows"]
    assert imported["threshold"] is not None  # the warm start certified a threshold
    token = outputs["token issue crm@example.com"]["token"]
    hana = outputs["user create hana@example.com"]["password"]  # the one-time password
    assert outputs["user create crm@example.com"]["password"] is None  # a service account

    guide = GUIDE.read_text()
    settings = Settings(database_url=db_url, password_hash_profile=CHEAP_HASHING)
    with TestClient(create_app(settings)) as client:
        system = {"Authorization": f"Bearer {token}"}
        assert "/processes/1/items" in guide
        statuses = []
        for n, (text, _) in enumerate(unseen):
            sent = client.post(
                "/processes/1/items", json={"external_id": f"T-{n}", "text": text}, headers=system
            )
            assert sent.status_code == 201, sent.text
            statuses.append(sent.json()["status"])
        assert "auto_completed" in statuses  # autopilot from the first live items
        # A message like no other in the history: the agent leaves it to a person.
        odd = {"external_id": "T-odd", "text": "zzz qqq xyzzy"}
        assert client.post("/processes/1/items", json=odd, headers=system).json()["status"] == (
            "queued"
        )

        # The reviewer signs in with the one-time password `deshi user create` printed for them.
        basic = ("hana@example.com", hana)
        assert "POST /processes/1/queue/claim" in guide and "POST /items/{item_id}/review" in guide
        claimed = client.post("/processes/1/queue/claim", auth=basic)
        assert claimed.status_code == 200, claimed.text
        item = claimed.json()
        answer = {"action": "correct", "label": LABELS[0]}
        reviewed = client.post(f"/items/{item['id']}/review", json=answer, auth=basic)
        assert reviewed.status_code == 200, reviewed.text
        assert reviewed.json()["status"] == "completed"
