from __future__ import annotations

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
