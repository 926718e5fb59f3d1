"""Which C allocator a long-running command runs on, said when it starts."""

from __future__ import annotations

import logging

from deshi.engine.heap import allocator


def log_allocator(logger: logging.Logger) -> None:
    """Log this process's C allocator, and on glibc's the advice to preload jemalloc: over an
    hour of steady load a server kept about a quarter as much on jemalloc (docs/service.md,
    "Memory")."""
    name = allocator()
    if name == "glibc":
        logger.info(
            "C allocator: glibc malloc; a long-running process keeps less memory on jemalloc "
            "(LD_PRELOAD=libjemalloc.so.2, docs/service.md, Memory)"
        )
    else:
        logger.info("C allocator: %s", name)
