"""Proof of value: the pure arithmetic of KPIs, recommendations, early warnings and inventory.

Nothing here touches a database or the web; a service layer builds the plain records in
`deshi.kpis.records` and calls these functions. Every metric is defined in docs/kpis.md.

    records        ItemRecord, ModelEvent, Costs, KpiPolicy; ISO-week / month grouping
    model_quality  accuracy, calibration error, realized auto-complete error (audits)
    product        automation / acceptance / correction rates, handling time, queue, time to value
    business       baseline, hours and money saved, escaped errors, net savings, ROI
    flywheel       reviews per week, labels covered, accuracy gain, retraining cycle, reviewers
    recommend      scale / hold / stop with reasons
    warnings       early warnings
    inventory      ranked candidate processes with a 90-day plan
    arms           deterministic randomized arm assignment
    charts         KPIs per ISO week as SVG line charts (weekly report and dashboard)
"""

from deshi.engine.metrics import Estimate
from deshi.kpis.arms import assign_arm
from deshi.kpis.reasons import Reason
from deshi.kpis.recommend import Recommendation, WeekEvidence, recommend, weekly_evidence
from deshi.kpis.records import Costs, ItemRecord, KpiPolicy, ModelEvent
from deshi.kpis.warnings import EarlyWarning

__all__ = [
    "Costs",
    "EarlyWarning",
    "Estimate",
    "ItemRecord",
    "KpiPolicy",
    "ModelEvent",
    "Reason",
    "Recommendation",
    "WeekEvidence",
    "assign_arm",
    "recommend",
    "weekly_evidence",
]
