"""What counts as a report, defined once for every stage.

The partition of the rows read: every row of a source ends up in exactly one of
:data:`PARTITION`, and the run summary checks that they add up.
"""

from __future__ import annotations

from typing import Any

#: Where every row read goes: ``rows_in`` is their sum, per source (``rejected`` is a
#: count per reason).
PARTITION = ("accepted", "updated", "duplicates", "rejected", "outside_study_area")

PARTITION_TEXT = "rows_in = " + " + ".join(PARTITION)


def partition_count(source: dict[str, Any], key: str) -> int:
    """One term of a source's partition; ``rejected`` summed over its reasons.

    ``updated`` is 0 when missing: a summary written before updates were told from
    duplicates counted none.
    """
    value = source.get(key, 0) if key == "updated" else source[key]
    return sum(value.values()) if isinstance(value, dict) else int(value)


def check_partition(sources: dict[str, dict[str, Any]]) -> list[str]:
    """Return the ids of the sources whose row partition does not add up."""
    return [
        sid
        for sid, s in sources.items()
        if sum(partition_count(s, key) for key in PARTITION) != s["rows_in"]
    ]
