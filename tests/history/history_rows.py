"""BANKING77 rows for the history tests (the copy packaged with deshi for the demo)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

BANKING77 = Path(__file__).parents[2] / "src/deshi/data/banking77"


def banking(split: str = "train", labels: int = 10, seed: int = 3) -> list[tuple[str, str]]:
    """Every (text, label) row of the first `labels` intents, shuffled."""
    with (BANKING77 / f"{split}.csv").open(encoding="utf-8") as fh:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(fh)]
    chosen = set(sorted({label for _, label in rows})[:labels])
    picked = [row for row in rows if row[1] in chosen]
    random.Random(seed).shuffle(picked)
    return picked
