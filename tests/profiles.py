"""The publication profiles of issue 16 as the tests write them (a helper module, not a
test file): the issue's thresholds, written here rather than read from the configuration
defaults, so that a changed default is caught by the tests that compare with them."""

from __future__ import annotations

from pipelines.config.publication import ProfileRule
from pipelines.taxonomy import CATEGORIES, PERSONNE

COMITE = ProfileRule(
    "comite", min_households=3, dominance_share=0.85, protect="person_related",
    points="observations",
)  # fmt: skip
PUBLIC = ProfileRule(
    "public", min_households=11, dominance_share=0.85, protect="all", coarsen=True,
    round_base=5, points="none",
)  # fmt: skip
#: The taxonomy's person-related categories.
PERSON = frozenset(c.code for c in CATEGORIES if c.privacy_class == PERSONNE)
