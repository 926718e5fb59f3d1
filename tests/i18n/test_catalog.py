"""The Japanese catalog is complete for the messages of the UI, the weekly report, the backtest
report and the text output of `deshi kpis | warnings`, and its compiled .mo is current."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from jinja2 import Environment

LOCALE = Path(__file__).resolve().parents[2] / "src" / "deshi" / "locale"
ROOT = LOCALE.parents[2]
REPORT_TEMPLATE = ROOT / "src" / "deshi" / "kpis" / "templates" / "weekly_report.html.j2"
BACKTEST_TEMPLATE = ROOT / "src" / "deshi" / "sim" / "templates" / "backtest_report.html.j2"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """What `pybabel extract` finds with the project's babel.cfg, with the source locations."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract",
         "-F", str(LOCALE / "babel.cfg"), "-k", "_n_", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with pot.open("rb") as f:
        return read_po(f)


def _japanese() -> dict[str, str]:
    """msgid → msgstr of the Japanese .po file (untranslated and fuzzy entries left out)."""
    with (LOCALE / "ja" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    return {
        m.id: str(m.string)
        for m in catalog
        if isinstance(m.id, str) and m.id and m.string and not m.fuzzy
    }


def test_every_extracted_message_is_translated(extracted: Catalog) -> None:
    assert {m.id for m in extracted if m.id} - _japanese().keys() == set()


def test_babel_cfg_covers_the_reports_and_the_cli_text(extracted: Catalog) -> None:
    files = {path for m in extracted for path, _ in m.locations}
    assert {"src/deshi/kpis/report.py", "src/deshi/kpis/explain.py"} <= files
    assert "src/deshi/kpis/templates/weekly_report.html.j2" in files
    assert {"src/deshi/sim/report.py", "src/deshi/cli/kpis.py"} <= files
    assert "src/deshi/sim/templates/backtest_report.html.j2" in files


@pytest.mark.parametrize(
    ("template", "sample"), [(REPORT_TEMPLATE, "Early warnings"), (BACKTEST_TEMPLATE, "Per window")]
)
def test_every_message_of_a_report_template_has_a_japanese_translation(
    template: Path, sample: str
) -> None:
    """Read from the template itself, so a babel.cfg that stopped covering it still fails."""
    env = Environment(extensions=["jinja2.ext.i18n"])
    source = template.read_text(encoding="utf-8")
    calls = env.extract_translations(source)  # type: ignore[attr-defined]
    used = {args if isinstance(args, str) else args[0] for _, _, args in calls}
    assert len(used) >= 15 and sample in used
    japanese = _japanese()
    assert {msgid for msgid in used if msgid not in japanese} == set()
    for msgid in used:
        assert japanese[msgid] != msgid, msgid


def test_the_compiled_catalog_matches_the_po_file() -> None:
    po = read_po((LOCALE / "ja" / "LC_MESSAGES" / "messages.po").open("rb"))
    mo = read_mo(io.BytesIO((LOCALE / "ja" / "LC_MESSAGES" / "messages.mo").read_bytes()))
    assert {m.id: m.string for m in po if m.id} == {m.id: m.string for m in mo if m.id}
