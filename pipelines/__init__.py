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

    The stages allocate and free many column-sized buffers in a row. With pyarrow's
    default pool on Linux, mimalloc, a million-row ingestion spent 1.2 to 2.7 s in the
    kernel and took 3.3 s; with jemalloc, 0.8 to 0.9 s and 2.4 s, same outputs
    (``python -m bench.ingest``). Wheels built without jemalloc keep their default.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    with contextlib.suppress(NotImplementedError):  # a pyarrow built without jemalloc
        pa.set_memory_pool(pa.jemalloc_memory_pool())


_use_jemalloc()
