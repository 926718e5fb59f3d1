"""The risk policy (ε, 1 − δ, audit rate) is written once, in `deshi.engine.Policy`: its
defaults and bounds are the ones the API, the tables, the engine, the backtest, the KPIs, the
demo and the CLI use."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from deshi.cli.backtest import backtest
from deshi.db.tables import Process
from deshi.engine import DEFAULT_POLICY, AgentConfig, Policy, PolicyError
from deshi.kpis.records import KpiPolicy
from deshi.processes.models import ProcessUpdate
from deshi.sim.backtest import BacktestSettings
from deshi.sim.demo import DemoConfig

FIELDS = ("error_budget", "confidence", "audit_rate")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("error_budget", 0.0),
        ("error_budget", 1.0),
        ("confidence", 1.5),
        ("confidence", float("nan")),
        ("audit_rate", 0.0),
    ],
)
def test_policy_rejects_values_out_of_bounds(field: str, value: float) -> None:
    with pytest.raises(PolicyError, match=field) as raised:
        Policy(**{field: value})  # type: ignore[arg-type]
    assert raised.value.field == field


def test_an_audit_rate_of_one_audits_everything_and_is_allowed() -> None:
    assert Policy(audit_rate=1.0).audit_rate == 1.0
    assert ProcessUpdate(audit_rate=1.0).audit_rate == 1.0


def _column_default(name: str) -> Any:
    return Process.__table__.c[name].default.arg


def _cli_default(name: str) -> Any:
    return inspect.signature(backtest).parameters[name].default


def test_every_layer_defaults_to_the_policy() -> None:
    expected = {name: getattr(DEFAULT_POLICY, name) for name in FIELDS}
    assert expected == {"error_budget": 0.01, "confidence": 0.95, "audit_rate": 0.05}
    assert {name: _column_default(name) for name in FIELDS} == expected
    assert {name: _cli_default(name) for name in FIELDS} == expected
    assert AgentConfig().policy == BacktestSettings().policy == DEFAULT_POLICY
    assert KpiPolicy().error_budget == DemoConfig(Path("demo")).error_budget == 0.01
    assert KpiPolicy().confidence == 0.95


@pytest.mark.parametrize(("field", "value"), [("error_budget", 1.0), ("confidence", 0.0)])
def test_the_api_and_the_kpis_refuse_what_the_policy_refuses(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        ProcessUpdate(**{field: value})  # type: ignore[arg-type]
    with pytest.raises(PolicyError, match=field):
        KpiPolicy(**{field: value})  # type: ignore[arg-type]


def test_a_stored_process_gives_its_policy() -> None:
    process = Process(error_budget=0.02, confidence=0.9, audit_rate=0.1)
    assert process.policy == Policy(error_budget=0.02, confidence=0.9, audit_rate=0.1)
