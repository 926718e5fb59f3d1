"""The Japanese catalog is complete for the UI's messages and its compiled .mo is current."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

LOCALE = Path(__file__).resolve().parents[2] / "src" / "deshi" / "locale"
ROOT = LOCALE.parents[2]


def test_every_ui_message_is_extracted_and_translated(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract",
         "-F", str(LOCALE / "babel.cfg"), "-k", "_n_", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    extracted = {m.id for m in read_po(pot.open("rb")) if m.id}
    ja = read_po((LOCALE / "ja" / "LC_MESSAGES" / "messages.po").open("rb"))
    translated = {m.id for m in ja if m.id and m.string}
    assert extracted - translated == set()


def test_the_compiled_catalog_matches_the_po_file() -> None:
    po = read_po((LOCALE / "ja" / "LC_MESSAGES" / "messages.po").open("rb"))
    mo = read_mo(io.BytesIO((LOCALE / "ja" / "LC_MESSAGES" / "messages.mo").read_bytes()))
    assert {m.id: m.string for m in po if m.id} == {m.id: m.string for m in mo if m.id}
