"""The labelled scrubbing corpus (``tests/data/scrub_corpus.tsv``): reading it, and
scoring the scrubber on it, span by span (used by ``tests/test_scrub.py`` and
``bench/scrub.py``).

A line's spans are marked ``⟨kind:text⟩``. The scrubber's own spans are recovered by
aligning its output with the input: it only replaces substrings by placeholders, so the
text between two placeholders of the output is found, in order, in the input.

- **recall** of a kind: the share of its labelled spans whose letters and digits are all
  inside spans the scrubber replaced (by any placeholder: the data is gone);
- **precision** of a kind: the share of the scrubber's spans of that kind whose letters
  and digits are all inside labelled spans (no word of the note taken with them);
- a **negative** line (no label) is damaged when it does not come out unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.ingest.scrub import PLACEHOLDERS

CORPUS = Path(__file__).parent / "data" / "scrub_corpus.tsv"

#: Labels of the corpus → kinds of :data:`pipelines.ingest.scrub.PLACEHOLDERS`.
LABELS = {"tel": "phones", "mail": "emails", "log": "flats", "nom": "names"}

_MARK = re.compile(r"⟨(tel|mail|log|nom):([^⟩]*)⟩")
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))
_KIND_OF = {p: k for k, p in PLACEHOLDERS.items()}


@dataclass(frozen=True)
class Example:
    """One line of the corpus."""

    line: int  # in the file, from 1
    group: str
    text: str  # without the labels
    spans: tuple[tuple[int, int, str], ...]  # (start, end, kind) in ``text``

    @property
    def expected(self) -> str:
        """The text with each labelled span replaced by its placeholder."""
        out, last = [], 0
        for start, end, kind in self.spans:
            out += [self.text[last:start], PLACEHOLDERS[kind]]
            last = end
        return "".join([*out, self.text[last:]])


def parse(marked: str) -> tuple[str, tuple[tuple[int, int, str], ...]]:
    """The text and its labelled spans from a marked line."""
    text, spans, last = [], [], 0
    length = 0
    for m in _MARK.finditer(marked):
        before = marked[last : m.start()]
        text.append(before)
        length += len(before)
        spans.append((length, length + len(m.group(2)), LABELS[m.group(1)]))
        text.append(m.group(2))
        length += len(m.group(2))
        last = m.end()
    text.append(marked[last:])
    plain = "".join(text)
    if "⟨" in plain or "⟩" in plain:
        raise ValueError(f"malformed label in {marked!r}")
    return plain, tuple(spans)


def load(path: Path = CORPUS) -> list[Example]:
    """The corpus's examples (comments and blank lines skipped)."""
    examples = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        group, marked = raw.split("\t")
        text, spans = parse(marked)
        if (group == "neg") != (not spans):
            raise ValueError(f"line {number}: group {group!r} and labels disagree")
        examples.append(Example(number, group, text, spans))
    return examples


def scrubbed_spans(text: str, scrubbed: str) -> list[tuple[int, int, str]] | None:
    """The spans of ``text`` that the scrubber replaced to give ``scrubbed``, with their
    kinds; None when ``scrubbed`` is not ``text`` with some spans replaced."""
    pieces = _PLACEHOLDER.split(scrubbed)
    kinds = [_KIND_OF[p] for p in _PLACEHOLDER.findall(scrubbed)]
    pattern = "(.+?)".join(re.escape(p) for p in pieces)
    m = re.fullmatch(pattern, text, flags=re.DOTALL)
    if m is None:
        return None
    return [(m.start(i + 1), m.end(i + 1), kind) for i, kind in enumerate(kinds)]


def _alnum(text: str, start: int, end: int) -> set[int]:
    return {i for i in range(start, end) if text[i].isalnum()}


@dataclass
class Score:
    """Counts per kind, and the lines that went wrong."""

    found: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PLACEHOLDERS, 0))
    labelled: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PLACEHOLDERS, 0))
    correct: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PLACEHOLDERS, 0))
    predicted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PLACEHOLDERS, 0))
    negatives: int = 0
    damaged: list[tuple[Example, str]] = field(default_factory=list)
    missed: list[tuple[Example, str]] = field(default_factory=list)
    overreach: list[tuple[Example, str]] = field(default_factory=list)
    exact: int = 0
    lines: int = 0

    def recall(self, kind: str) -> float:
        return self.found[kind] / self.labelled[kind] if self.labelled[kind] else 1.0

    def precision(self, kind: str) -> float:
        return self.correct[kind] / self.predicted[kind] if self.predicted[kind] else 1.0

    def table(self) -> dict[str, dict[str, float | int]]:
        """Per kind: labelled and predicted spans, precision and recall (rounded)."""
        return {
            kind: {
                "labelled": self.labelled[kind],
                "scrubbed": self.predicted[kind],
                "precision": round(self.precision(kind), 3),
                "recall": round(self.recall(kind), 3),
            }
            for kind in PLACEHOLDERS
        }


def score(examples: list[Example], outputs: list[str]) -> Score:
    """Score the scrubber's ``outputs`` (one per example, in order)."""
    s = Score()
    for ex, out in zip(examples, outputs, strict=True):
        s.lines += 1
        s.exact += out == ex.expected
        if not ex.spans:
            s.negatives += 1
            if out != ex.text:
                s.damaged.append((ex, out))
        got = scrubbed_spans(ex.text, out)
        if got is None:  # text changed outside any placeholder: everything counts wrong
            got = []
            if ex.spans:
                s.overreach.append((ex, out))
        covered = set().union(*[_alnum(ex.text, a, b) for a, b, _ in got])
        labelled = set().union(*[_alnum(ex.text, a, b) for a, b, _ in ex.spans])
        for a, b, kind in ex.spans:
            s.labelled[kind] += 1
            if _alnum(ex.text, a, b) <= covered:
                s.found[kind] += 1
            else:
                s.missed.append((ex, out))
        for a, b, kind in got:
            s.predicted[kind] += 1
            if _alnum(ex.text, a, b) <= labelled:
                s.correct[kind] += 1
            elif ex.spans:
                s.overreach.append((ex, out))
    return s
