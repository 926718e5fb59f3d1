"""Proof of value: KPIs, recommendations and early warnings of a process.

The arithmetic is pure (no database, no web; import-linter checks it): the use cases read a
process's rows through `repo`, build the plain records of `records` and call it. Every metric is
defined in `definitions` (shown in the app) and, with its formula, in docs/kpis.md.

    records           ItemRecord, ModelEvent, Costs, KpiPolicy; ISO-week / month grouping
    model_quality     accuracy, calibration error, realized auto-complete error (audits)
    product           automation / acceptance / correction, handling time, queue, time to value
    business          baseline, hours and money saved, escaped errors, net savings, ROI
    budget            the error budget on every audit to date: anytime-valid bounds, audits needed
    flywheel          reviews per week, labels covered, accuracy gain, retraining cycle, reviewers
    recommend         scale / hold / stop over a period, with reasons and what would change it
    definitions       every metric's one-line definition (help page and weekly report)
    warnings          early warnings
    charts            KPIs per ISO week as SVG line charts (weekly report and dashboard)
    report            the weekly report rendered as one HTML page

Use cases (each with a `_for` twin that checks the principal may read the process):

    kpi_report        a process's KPIs over a period, overall and per week, with a recommendation
    process_warnings  the early warnings that fire now
    weekly_report     the weekly HTML report of an ISO week
    context           what they share: loading the records and context, parsing weeks and arms
    cache             their results kept in the database until the data under them changes
"""

from deshi.engine.metrics import Estimate
from deshi.kpis.budget import BudgetEvidence, budget_evidence
from deshi.kpis.reasons import Reason
from deshi.kpis.recommend import Evidence, Period, Recommendation, recommend
from deshi.kpis.records import Costs, ItemRecord, KpiPolicy, ModelEvent
from deshi.kpis.warnings import EarlyWarning

__all__ = [
    "BudgetEvidence",
    "Costs",
    "EarlyWarning",
    "Estimate",
    "Evidence",
    "ItemRecord",
    "KpiPolicy",
    "ModelEvent",
    "Period",
    "Reason",
    "Recommendation",
    "budget_evidence",
    "recommend",
]
