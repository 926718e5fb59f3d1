"""Compare the first and last tracemalloc snapshots a traced `deshi serve` dumped
(probes/serve_trace): the traced total of each, and the lines whose allocations grew most.

    .venv/bin/python bench/probes/serve_trace_compare.py /tmp/deshi-serve-trace [--top 12]
"""

from __future__ import annotations

import argparse
import tracemalloc
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    paths = sorted(args.directory.glob("snap-*.pickle"))
    if len(paths) < 2:
        parser.error(f"{args.directory} holds {len(paths)} snapshot(s); two or more are compared")
    snapshots = [tracemalloc.Snapshot.load(str(path)) for path in paths]
    for path, snapshot in zip(paths, snapshots, strict=True):
        total = sum(stat.size for stat in snapshot.statistics("filename"))
        print(f"{path.name}: {total / 2**20:.1f} MiB traced")
    for stat in snapshots[-1].compare_to(snapshots[0], "lineno")[: args.top]:
        grown = f"{stat.size_diff / 2**20:+8.2f} MiB {stat.count_diff:+8d} blocks"
        print(f"{grown}  {stat.traceback[0]}")


if __name__ == "__main__":
    main()
