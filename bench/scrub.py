"""Scrubbing benchmark: precision and recall per kind of personal data on the labelled
French corpus (``tests/data/scrub_corpus.tsv``), and the time to scrub a column.

Targets (issue 13): recall ≥ 0.98 for phones and e-mails, ≥ 0.90 for names and flat
numbers, and no negative line (street names, decimals, ids, dates…) changed. The time is
that of :func:`pipelines.ingest.scrub.scrub_series` on 100,000 distinct notes made from the
corpus's lines (each with a distinct ticket number), and on one note (the cost of a
call: pyarrow compiles the rules' patterns at each call).
"""

from __future__ import annotations

import logging

import pandas as pd

from bench._util import emit, timed
from pipelines.ingest.scrub import PLACEHOLDERS, scrub_series, scrub_text
from tests import scrub_corpus

N_NOTES = 100_000
TARGETS = {"phones": 0.98, "emails": 0.98, "names": 0.90, "flats": 0.90}


def main() -> None:
    """Score the corpus, time the scrubber, print the figures."""
    logging.basicConfig(level=logging.WARNING)
    examples = scrub_corpus.load()
    results: dict[str, object] = {}
    with timed(results, "corpus_s"):
        out, _ = scrub_series(pd.Series([e.text for e in examples], dtype="str"))
    score = scrub_corpus.score(examples, out.tolist())
    table = score.table()
    for kind in PLACEHOLDERS:
        table[kind]["recall_target"] = TARGETS[kind]
    results.update(
        {
            "corpus_lines": score.lines,
            "negatives": score.negatives,
            "negatives_damaged": len(score.damaged),
            "lines_exact": score.exact,
            "per_kind": table,
            "missed": sorted({e.text for e, _ in score.missed}),
            "overreach": sorted({e.text for e, _ in score.overreach}),
            "targets_met": not score.damaged
            and all(score.recall(k) >= t for k, t in TARGETS.items()),
        }
    )
    texts = [e.text for e in examples]
    notes = pd.Series(
        [f"{texts[i % len(texts)]} (ticket T-{i:06d})" for i in range(N_NOTES)], dtype="str"
    )
    with timed(results, f"scrub_{N_NOTES}_notes_s"):
        scrub_series(notes)
    with timed(results, "scrub_one_note_s"):
        scrub_text("Mme Martin appt 12, rappeler au 06 12 34 56 78, moreau@exemple.fr")
    emit("scrub", results)


if __name__ == "__main__":
    main()
