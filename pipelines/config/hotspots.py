"""The parameters of the hotspot stage (``[params.hotspots]``), checked.

Defaults are :data:`pipelines.config.defaults.DEFAULT_PARAMS`; every bad value raises a
:class:`~pipelines.errors.ConfigError` naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipelines.errors import ConfigError
from pipelines.taxonomy import CODES


@dataclass(frozen=True)
class HotspotParams:
    """The ``[params.hotspots]`` section, checked (see ``DEFAULT_PARAMS``)."""

    distance_band_m: float | None = None
    band_search_steps: int = 10
    band_increment_m: float | None = None
    hex_size_m: float = 50.0
    kde_bandwidth_m: float = 150.0
    kde_cell_m: float = 20.0
    kde_levels: tuple[float, ...] | None = None
    permutations: int = 0
    seed: int = 20240601
    category_min_reports: int = 30
    blank_check_shuffles: int = 20
    chronic: Mapping[str, tuple[int, int] | None] = field(
        default_factory=lambda: {"default": (3, 90), "ascenseur": (3, 90)}
    )

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], path: str = "configuration") -> HotspotParams:
        """Check and convert the parameters; a bad value raises :class:`ConfigError`."""

        def bad(key: str, what: str) -> ConfigError:
            return ConfigError(path, what, key=f"params.hotspots.{key}")

        def positive(key: str, default: float | None, *, optional: bool = False) -> Any:
            value = raw.get(key, default)
            if value is None and optional:
                return None
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise bad(key, f"attendu un nombre positif, trouvé {value!r}.")
            return value

        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise bad(unknown[0], f"paramètre inconnu ; possibles : {', '.join(sorted(known))}.")
        chronic: dict[str, tuple[int, int] | None] = {}
        raw_chronic = raw.get("chronic", {"default": [3, 90]})
        if not isinstance(raw_chronic, Mapping):
            raise bad("chronic", "attendu une table catégorie = [N, jours].")
        for code, rule in raw_chronic.items():
            if code != "default" and code not in CODES:
                raise bad(f"chronic.{code}", f"catégorie inconnue ; codes : {', '.join(CODES)}.")
            if rule is None or rule == []:
                chronic[code] = None  # this category is never flagged chronic
                continue
            ok = isinstance(rule, Sequence) and len(rule) == 2
            if not ok or not all(isinstance(v, int) and v > 0 for v in rule):
                raise bad(
                    f"chronic.{code}", f"attendu [N, jours] entiers positifs, trouvé {rule!r}."
                )
            chronic[code] = (int(rule[0]), int(rule[1]))
        levels = raw.get("kde_levels")
        if levels is not None:
            if not isinstance(levels, Sequence) or not all(
                isinstance(v, int | float) and v > 0 for v in levels
            ):
                raise bad("kde_levels", "attendu une liste de densités positives (par ha).")
            levels = tuple(float(v) for v in levels)
        permutations = raw.get("permutations", 0)
        if not isinstance(permutations, int) or permutations < 0:
            raise bad("permutations", f"attendu un entier ≥ 0, trouvé {permutations!r}.")
        seed = raw.get("seed", cls.seed)
        if not isinstance(seed, int):
            raise bad("seed", f"attendu un entier, trouvé {seed!r}.")
        band = positive("distance_band_m", None, optional=True)
        increment = positive("band_increment_m", None, optional=True)
        return cls(
            distance_band_m=None if band is None else float(band),
            band_search_steps=int(positive("band_search_steps", cls.band_search_steps)),
            band_increment_m=None if increment is None else float(increment),
            hex_size_m=float(positive("hex_size_m", cls.hex_size_m)),
            kde_bandwidth_m=float(positive("kde_bandwidth_m", cls.kde_bandwidth_m)),
            kde_cell_m=float(positive("kde_cell_m", cls.kde_cell_m)),
            kde_levels=levels,
            permutations=permutations,
            seed=seed,
            category_min_reports=int(positive("category_min_reports", cls.category_min_reports)),
            blank_check_shuffles=int(positive("blank_check_shuffles", cls.blank_check_shuffles)),
            chronic=chronic,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready parameters, as recorded in the summary and the method note."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["kde_levels"] = list(self.kde_levels) if self.kde_levels else None
        out["chronic"] = {k: list(v) if v else None for k, v in self.chronic.items()}
        return out
