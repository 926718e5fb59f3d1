"""The inventory API's schemas: a candidate as sent, as stored, and as ranked with its plan."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from deshi.inputs import InputModel
from deshi.inventory.ranking import PlanPhase, RankedProcess
from deshi.kpis.models import ReasonPublic

__all__ = ["CandidateCreate", "CandidatePublic", "PlanPhasePublic", "RankedCandidatePublic"]


class CandidateCreate(InputModel):
    """A candidate process: how much work it is and how well its outcomes can be measured."""

    name: str = Field(min_length=1, max_length=200)
    monthly_volume: float = Field(ge=0, description="Items per month.")
    minutes_per_item: float = Field(ge=0, description="Human minutes per item today.")
    exception_rate: float = Field(
        ge=0, le=1, description="Share of items that need a human whatever the model does."
    )
    measurability: int = Field(
        ge=1, le=5, description="1 (no data on outcomes) .. 5 (every outcome recorded)."
    )
    hourly_rate: float = Field(ge=0, description="Loaded cost of an hour of human work.")
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    notes: str = Field(default="", max_length=10_000)


class CandidatePublic(BaseModel):
    """A stored candidate as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    department_id: int
    name: str
    monthly_volume: float
    minutes_per_item: float
    exception_rate: float
    measurability: int
    hourly_rate: float
    currency: str
    notes: str
    created_by: str
    created_at: datetime


class PlanPhasePublic(BaseModel):
    """One stage of the 90-day plan: days [start_day, end_day] and its exit criteria."""

    name: str
    start_day: int
    end_day: int
    exit_criteria: list[ReasonPublic]

    @classmethod
    def of(cls, phase: PlanPhase) -> PlanPhasePublic:
        """Render a pure plan phase."""
        return cls(
            name=phase.name,
            start_day=phase.start_day,
            end_day=phase.end_day,
            exit_criteria=[
                ReasonPublic(code=r.code, message=r.message, params=dict(r.params))
                for r in phase.exit_criteria
            ],
        )


class RankedCandidatePublic(BaseModel):
    """A candidate with its rank (1 goes first), expected value, priority and 90-day plan."""

    rank: int
    candidate: CandidatePublic
    expected_automation_share: float
    expected_yearly_hours: float
    expected_yearly_savings: float = Field(description="In the candidate's currency.")
    priority_score: float = Field(description="Expected yearly savings * measurability / 5.")
    plan: list[PlanPhasePublic]

    @classmethod
    def of(cls, ranked: RankedProcess, candidate: CandidatePublic) -> RankedCandidatePublic:
        """Render a pure ranking result for the stored candidate it was computed from."""
        return cls(
            rank=ranked.rank,
            candidate=candidate,
            expected_automation_share=ranked.expected_automation_share,
            expected_yearly_hours=ranked.expected_yearly_hours,
            expected_yearly_savings=ranked.expected_yearly_savings,
            priority_score=ranked.priority_score,
            plan=[PlanPhasePublic.of(phase) for phase in ranked.plan],
        )
