"""Independent column computations run side by side on a few threads
(:func:`concurrently`), for the ingestion's steps over pyarrow and numpy columns."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def concurrently(tasks: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run independent column computations on a few threads.

    pyarrow's compute kernels (and most of numpy) release the GIL, so columns are parsed
    side by side: pyarrow's CSV reader already uses every core, and these steps would
    otherwise use one. The results do not depend on the scheduling.
    """
    workers = min(len(tasks), os.cpu_count() or 1, 8)
    if workers < 2:
        return {key: task() for key, task in tasks.items()}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {key: pool.submit(task) for key, task in tasks.items()}
        return {key: future.result() for key, future in futures.items()}
