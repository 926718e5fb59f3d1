"""How a process's memory moves when its agent is rebuilt again and again, as a server rebuilds
it after every retrain made elsewhere (`deshi.learning.registry`).

Builds the agent of one process of an existing workspace `--rebuilds` times, dropping it before
each build, and prints the OS process's RSS after each. With `--trim`, also collects garbage
and trims the C heap after each build's transaction ended (what the registry cannot do from
inside it). Read-only on the database, so it may run beside a live server:

    .venv/bin/python bench/rebuild_memory_bench.py --db sqlite:///deshi-demo/deshi.db --process 1
"""

from __future__ import annotations

import argparse
import gc
from pathlib import Path

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.tables import Process
from deshi.engine.heap import release_free_heap
from deshi.learning.registry import AgentRegistry


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", required=True, help="the workspace's database URL")
    parser.add_argument("--process", type=int, default=1)
    parser.add_argument("--rebuilds", type=int, default=12)
    parser.add_argument("--trim", action="store_true", help="trim after each transaction too")
    args = parser.parse_args()
    factory = make_session_factory(create_db_engine(args.db))
    registry = AgentRegistry()
    first = None
    for build in range(args.rebuilds):
        registry.invalidate(args.process)
        with transaction(factory, lock_early=False) as session:
            process = session.get_one(Process, args.process)
            with registry.agent(session, process) as entry:
                cases = len(entry.agent.observations)
        if args.trim:
            gc.collect()
            release_free_heap()
        now = rss_mib()
        first = now if first is None else first
        print(f"rebuild {build}: {cases} cases, RSS {now:.1f} MiB ({now - first:+.1f})")


if __name__ == "__main__":
    main()
