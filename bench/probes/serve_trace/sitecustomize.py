"""Trace the allocations of `deshi serve` and dump a snapshot on SIGUSR1 (a probe, not deshi).

Put this directory first on PYTHONPATH and set DESHI_PROBE_TRACE to the frames to keep: every
Python started then imports it, and only a `deshi serve` process traces (its spawned children,
the KPI process and the retrain children, do not). `kill -USR1 <pid>` writes
DESHI_PROBE_TRACE_DIR/snap-<unix time>.pickle; `serve_trace_compare.py` reads them.

    DESHI_PROBE_TRACE=10 PYTHONPATH=bench/probes/serve_trace:src \\
        .venv/bin/python bench/soak_bench.py --minutes 30 --start-seconds 600
"""

import os
import signal
import sys
import time
import tracemalloc
from pathlib import Path
from types import FrameType

if os.environ.get("DESHI_PROBE_TRACE") and sys.argv[1:2] == ["serve"]:
    tracemalloc.start(int(os.environ["DESHI_PROBE_TRACE"]))
    _out = Path(os.environ.get("DESHI_PROBE_TRACE_DIR", "/tmp/deshi-serve-trace"))
    _out.mkdir(parents=True, exist_ok=True)

    def _dump(_signum: int, _frame: FrameType | None) -> None:
        tracemalloc.take_snapshot().dump(str(_out / f"snap-{int(time.time())}.pickle"))

    signal.signal(signal.SIGUSR1, _dump)
