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


def own_peak_rss_mb() -> float:
    """This process's own peak resident memory, MB: ``VmHWM`` (its address space's
    high-water mark, new at ``exec``), not ``ru_maxrss``, which Linux carries across
    ``exec`` from the forked parent (a child started by a 370 MB driver, or a Dask worker
    by its nanny, reported the parent's peak when its own was lower); ``ru_maxrss``
    where ``/proc`` is absent."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return peak_rss_mb()


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
