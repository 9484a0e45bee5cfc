"""Timing and memory helpers for the benchmarks (each benchmark runs in its own process
so that its peak resident memory is its own)."""

from __future__ import annotations

import json
import resource
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil  # distributed's own dependency (dask[distributed] is Vigie's)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def own_peak_rss_mb() -> float:
    """This process's own peak resident memory, MB: ``VmHWM`` (its address space's
    high-water mark, new at ``exec``), not ``ru_maxrss``, which Linux carries across
    ``exec`` from the forked parent (a child started by a 370 MB driver, or a Dask worker
    by its nanny, reported the parent's peak when its own was lower); ``ru_maxrss``
    where ``/proc`` is absent."""
    own = _vm_hwm_mb("self")
    return peak_rss_mb() if own is None else own


def _vm_hwm_mb(pid: int | str) -> float | None:
    """Process ``pid``'s own peak resident memory (``VmHWM``), MB; ``None`` when it is
    gone or there is no ``/proc``."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def run_tree_measured(
    args: Sequence[str], *, cwd: Path, every_s: float = 0.05
) -> tuple[subprocess.CompletedProcess[str], float | None, int]:
    """Run ``args`` (its output captured as text) and measure the peak memory of its
    process tree: the sum of each process's own peak (``VmHWM``), MB, as last read
    while it ran (every ``every_s`` seconds), and the number of processes seen.

    A child's peak is not in ``RUSAGE_CHILDREN``'s ``ru_maxrss`` alone: that is the
    largest process's (not the sum of processes that run side by side, as ``vigie
    split``'s extract cut beside its rows), and Linux carries it across ``exec`` from
    the forking parent (:func:`own_peak_rss_mb`). The sum bounds the
    tree's peak from above (each process counted at its own peak, shared libraries in
    each); growth in a process's last ``every_s`` is missed. ``None`` without
    ``/proc``."""
    proc = subprocess.Popen(
        list(args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peaks: dict[int, float] = {}
    root = psutil.Process(proc.pid)
    while True:
        try:
            tree = [proc.pid, *(c.pid for c in root.children(recursive=True))]
        except psutil.Error:  # the root gone between two reads
            tree = [proc.pid]
        for pid in tree:
            peak = _vm_hwm_mb(pid)
            if peak is not None:
                peaks[pid] = max(peak, peaks.get(pid, 0.0))
        try:
            out, err = proc.communicate(timeout=every_s)  # no output lost on a retry
            break
        except subprocess.TimeoutExpired:
            continue
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done, (sum(peaks.values()) if peaks else None), len(peaks)


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
