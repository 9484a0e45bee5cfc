"""Vigie: veille technique et sociale, from residents' reports to steering-committee maps."""

import contextlib
import os
from importlib.metadata import PackageNotFoundError, version

import pyarrow as pa

try:
    __version__ = version("vigie")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]


def _use_jemalloc() -> None:
    """Make jemalloc pyarrow's memory pool, unless ``ARROW_DEFAULT_MEMORY_POOL`` chooses.

    The stages allocate and free many column-sized buffers in a row. pyarrow's default
    pool on Linux, mimalloc, hands freed pages back to the system and takes them again
    on the next column, which made a million-row ingestion spend as much time in the
    kernel as in Python (``bench.ingest``: 3.3 s with mimalloc, 2.4 s with jemalloc,
    same outputs). Wheels built without jemalloc keep their default.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    with contextlib.suppress(NotImplementedError):  # a pyarrow built without jemalloc
        pa.set_memory_pool(pa.jemalloc_memory_pool())


_use_jemalloc()
