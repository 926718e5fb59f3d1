"""What every number on the dashboard and in the weekly report means, in one place.

The help page of the app (`/ui/help/metrics`) and the weekly report's "Metric definitions"
section both render this list, so an owner reads the same sentence wherever a number appears;
docs/kpis.md holds the same definitions with their formulas for developers. Each `key` is the
anchor of the definition on the help page and, for the dashboard's cards, the card's key.
"""

from __future__ import annotations

from dataclasses import dataclass

from deshi.i18n import translations

__all__ = ["DEFINITIONS", "HELP_PATH", "Definition", "definitions", "help_link"]

HELP_PATH = "/ui/help/metrics"


def _n_(message: str) -> str:
    """Mark a msgid for extraction; it is translated when rendered."""
    return message


@dataclass(frozen=True, slots=True)
class Definition:
    """A metric's anchor, name and one-paragraph meaning (msgids, translated when shown)."""

    key: str
    name: str
    text: str


DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        "recommendation",
        _n_("Recommendation"),
        _n_(
            "Scale when, over at least the required weeks, net savings are positive with "
            "confidence, the audits prove the error budget and acceptance meets the target; "
            "stop when the audits break the budget or net savings are negative with confidence; "
            "hold otherwise, saying what would change it. It judges the period the numbers show."
        ),
    ),
    Definition(
        "intervals",
        _n_("Intervals and n"),
        _n_(
            "Each number comes with its interval at the process's confidence and n, the "
            "observations behind it. A dash means it cannot be measured yet."
        ),
    ),
    Definition("items", _n_("Items"), _n_("Items created in the period, in every arm.")),
    Definition(
        "reviews",
        _n_("Reviews"),
        _n_("Reviews completed in the period (accepted, corrected or escalated); counted."),
    ),
    Definition(
        "accuracy",
        _n_("Agent accuracy"),
        _n_(
            "Share of reviewed items where the agent's label equals the person's final label "
            "(Wilson interval)."
        ),
    ),
    Definition(
        "automation",
        _n_("Automation"),
        _n_(
            "Share of all items the agent completed alone; audited items count as not "
            "automated (Wilson interval)."
        ),
    ),
    Definition(
        "acceptance",
        _n_("Suggestions accepted"),
        _n_(
            "Share of the items reviewed with the agent's suggestion shown that the reviewer "
            "accepted unchanged (Wilson interval); the recommendation compares it with the "
            "owner's target."
        ),
    ),
    Definition(
        "auto_error",
        _n_("Auto-complete error"),
        _n_(
            "Share of audited items the agent got wrong. Audits are a random, blind sample of "
            "the items the agent would complete alone. Per week: Clopper-Pearson interval. Over "
            "a period: bounds that stay valid however often they are read, as the autopilot's "
            "monitor uses."
        ),
    ),
    Definition(
        "error_budget",
        _n_("Error budget ε"),
        _n_(
            "The highest auto-complete error the owner accepts. The audits prove it when the "
            "upper bound is at most ε and break it when the lower bound is above ε; each "
            "error-free audit narrows the bound, and the recommendation says how many more "
            "would prove it."
        ),
    ),
    Definition(
        "handling",
        _n_("Handling time (s)"),
        _n_(
            "Mean human seconds per completed item, auto-completed items counting 0 "
            "(t interval); per arm on the chart."
        ),
    ),
    Definition(
        "hours_saved",
        _n_("Hours saved"),
        _n_(
            "Assisted and AI-led items × (mean human-only seconds − their mean seconds) ÷ 3,600, "
            "against the human-only arm as the baseline (Welch interval). Until that arm has "
            "enough items, the handling times imported with the history stand in, and the "
            "card says so."
        ),
    ),
    Definition(
        "net_savings",
        _n_("Net savings"),
        _n_(
            "Hours saved × hourly rate − cost of escaped errors − running cost, in the "
            "process's currency; its interval combines the parts at their extremes."
        ),
    ),
    Definition(
        "roi",
        _n_("Return on running cost"),
        _n_(
            "Net savings ÷ running cost over the period's weeks (1.0 = the agent returned "
            "twice what it cost). None while no running cost per week is set."
        ),
    ),
    Definition(
        "escaped_errors",
        _n_("Escaped errors"),
        _n_(
            "Auto-completed items × auto-complete error: wrong answers nobody checked, costed "
            "at the cost per escaped error."
        ),
    ),
    Definition(
        "partial_week",
        _n_("Partial week"),
        _n_("A week that has not ended yet: its numbers cover the days so far."),
    ),
    Definition(
        "draft_faithfulness",
        _n_("Draft faithfulness"),
        _n_(
            "Share of the drafts' sentences that the passages they cite support: their content "
            "words, numbers and names are found there (Wilson interval over sentences)."
        ),
    ),
    Definition(
        "draft_unsupported",
        _n_("Drafts with an unsupported claim"),
        _n_(
            "Share of drafts in which the checker found a sentence its sources do not support: "
            "the hallucination rate as the checker sees it (Wilson interval)."
        ),
    ),
    Definition(
        "draft_changed",
        _n_("Drafts rejected or edited"),
        _n_(
            "Share of the drafts a reviewer judged that they rejected or edited: the "
            "hallucination rate as reviewers see it (Wilson interval)."
        ),
    ),
    Definition(
        "draft_acceptance",
        _n_("Drafts accepted"),
        _n_("Share of the drafts a reviewer judged that they accepted as is (Wilson interval)."),
    ),
    Definition(
        "draft_edit_distance",
        _n_("Draft edit distance"),
        _n_(
            "Median normalised edit distance between accepted or edited drafts and the text "
            "the reviewer kept: 0% as drafted, 100% nothing kept (interval between order "
            "statistics)."
        ),
    ),
    Definition(
        "draft_guardrails",
        _n_("Draft guardrails"),
        _n_(
            "Share of drafts on which a guardrail acted (Wilson interval), with the count of "
            "each: personal data redacted before a model saw them, drafts declined for want of "
            "sources, data that held instructions (not sent), model failures (fallback used)."
        ),
    ),
    Definition(
        "draft_consistency",
        _n_("Consistent answers"),
        _n_(
            "The same question answered the same way: drafts of items whose texts are equal "
            "(case, width, spacing and punctuation ignored) are paired with the latest earlier "
            "draft of that question for another item; the share of pairs that cite the same "
            "documents and whose texts are at least 80% alike (Wilson interval over pairs; n/a "
            "without pairs)."
        ),
    ),
    Definition(
        "draft_paraphrase_consistency",
        _n_("Consistent answers, paraphrases included"),
        _n_(
            "As consistent answers, but two messages count as the same question when their "
            "multilingual embeddings are at least 0.97 alike (cosine), so a question asked in "
            "other words is paired too, and exact repeats as well. At that threshold, 97 in 100 "
            "such pairs of BANKING77 messages share an intent (n/a without pairs)."
        ),
    ),
    Definition(
        "draft_checker_precision",
        _n_("Checker precision"),
        _n_(
            "Of the judged drafts the checker flagged (an unsupported sentence), the share "
            "reviewers edited or rejected: how often a flag is right (Wilson interval)."
        ),
    ),
    Definition(
        "draft_checker_recall",
        _n_("Checker recall"),
        _n_(
            "Of the judged drafts reviewers edited or rejected, the share the checker had "
            "flagged: how much of what reviewers changed the checker catches (Wilson interval)."
        ),
    ),
)


def definitions(locale: str) -> list[Definition]:
    """The definitions with their names and texts translated into `locale`."""
    gettext = translations(locale).gettext
    return [Definition(d.key, gettext(d.name), gettext(d.text)) for d in DEFINITIONS]


def help_link(key: str, *, base_url: str = "") -> str:
    """The address of one definition on the app's help page (relative without `base_url`)."""
    return f"{base_url.rstrip('/')}{HELP_PATH}#{key}"
