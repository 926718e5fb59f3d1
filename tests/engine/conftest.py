"""Real BANKING77 rows for engine tests (bundled with the package)."""

from __future__ import annotations

import csv
import random
from importlib import resources

import pytest


@pytest.fixture(scope="session")
def banking_rows() -> list[tuple[str, str]]:
    """(text, label) pairs of BANKING77 train, shuffled with a fixed seed."""
    path = resources.files("deshi.data").joinpath("banking77/train.csv")
    with path.open(encoding="utf-8") as handle:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(handle)]
    random.Random(0).shuffle(rows)
    return rows
