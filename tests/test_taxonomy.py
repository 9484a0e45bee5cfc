"""The taxonomy's one label lookup (:func:`pipelines.taxonomy.label_of`), against the
labels of DOMAIN.md's table."""

from __future__ import annotations

import math

from pipelines.taxonomy import label_of


def test_label_of_gives_the_domain_labels_and_the_callers_fallback() -> None:
    assert label_of("ascenseur") == "Ascenseur en panne"
    assert label_of("eau_fuite") == "Fuite / dégât des eaux"
    assert label_of("autre") == "Autre"
    # outside the taxonomy: the code itself, as text, unless the caller says otherwise
    assert label_of("chaudiere") == "chaudiere"
    assert label_of("Ascenseur en panne") == "Ascenseur en panne"  # a label is no code
    assert label_of("chaudiere", "") == ""
    assert label_of("chaudiere", None) is None
    assert label_of("ascenseur", None) == "Ascenseur en panne"
    assert label_of(math.nan, None) is None  # a missing category
    assert label_of(math.nan) == "nan"
