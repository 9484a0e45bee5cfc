"""Timing and memory helpers for the benchmarks (each benchmark runs in its own process
so that its peak resident memory is its own)."""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@contextmanager
def timed(results: dict[str, Any], key: str) -> Iterator[None]:
    """Store the wall time of the block, in seconds, under ``results[key]``."""
    t0 = time.perf_counter()
    yield
    results[key] = round(time.perf_counter() - t0, 3)


def emit(name: str, results: dict[str, Any]) -> None:
    """Print one JSON line that ``python -m bench`` collects."""
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print("BENCH " + json.dumps({"bench": name, **results}, ensure_ascii=False), flush=True)
