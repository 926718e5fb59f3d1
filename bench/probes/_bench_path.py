"""Puts bench/ on the import path, so a probe run as `python bench/probes/NAME.py` can import
the benchmarks' own modules (engine_bench, _support) as they do."""

import sys
from pathlib import Path

BENCH = str(Path(__file__).resolve().parents[1])
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)
