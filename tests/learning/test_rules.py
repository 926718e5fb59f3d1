from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest
from learning_desk import Desk, banking_rows

from deshi.db import transaction
from deshi.db.tables import Process
from deshi.engine import Route, RouteReason
from deshi.learning.rules import first_match, parse_rules


def test_rules_in_every_stored_shape() -> None:
    rules = parse_rules(
        [
            {"name": "legal", "pattern": r"\blawyer\b"},
            {"field": "amount", "op": ">", "value": 10000},
            {"name": "vip", "field": "tier", "regex": "^gold$"},
        ]
    )
    assert first_match(rules, "my LAWYER says", {}) == "legal"
    assert first_match(rules, "hi", {"amount": 20000}) == "amount > 10000"
    assert first_match(rules, "hi", {"amount": "n/a", "tier": "gold"}) == "vip"
    assert first_match(rules, "hi", {"amount": 5}) is None
    assert first_match(parse_rules({"fraud": "stolen"}), "card stolen", {}) == "fraud"


def test_always_human_rule_routes_to_review(desk: Desk) -> None:
    desk.teach(banking_rows()[:60])
    with transaction(desk.factory) as session:
        process = session.get_one(Process, desk.process_id)
        process.always_human_rules = {"legal": "lawyer"}
    [(_, ruled), (_, free)] = desk.decide(["My lawyer asks where my card is", "Where is my card"])
    assert ruled.route is Route.REVIEW and ruled.reason_code is RouteReason.RULE
    assert ruled.reason_params == {"rule": "legal"}
    assert free.reason_code is not RouteReason.RULE


# Run in a child process with a generous timeout: a backtracking engine would take longer than
# the age of the universe on this text, and the test must fail, not hang.
_CATASTROPHIC = textwrap.dedent(
    """
    from deshi.learning.rules import first_match, parse_rules

    rules = parse_rules([{"name": "nested", "pattern": "(a+)+$"}])
    print(first_match(rules, "a" * 19999 + "!", {}), first_match(rules, "a" * 20000, {}))
    """
)


def test_a_nested_quantifier_on_a_20000_character_text_answers() -> None:
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CATASTROPHIC], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the rule (a+)+$ did not finish on a 20,000-character text")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "nested"]


def test_rules_use_re2_syntax_case_insensitively() -> None:
    rules = parse_rules(
        [{"name": "han", "pattern": r"\p{Han}{2}"}, {"name": "end", "pattern": r"x\z"}]
    )
    assert first_match(rules, "請求書", {}) == "han"
    assert first_match(rules, "ends in X", {}) == "end"


def test_a_stored_pattern_re2_refuses_matches_every_item(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="deshi.learning"):
        rules = parse_rules({"echo": r"(a)\1", "fraud": "stolen"})
    assert first_match(rules, "nothing to see", {}) == "echo"
    assert any("'echo'" in record.getMessage() for record in caplog.records)
