"""The ``[publication]`` block: which profile each output is published under, and the
rules of statistical disclosure control of each profile (issue 16).

Three profiles, fixed by name:

``interne``
    The analyst's working files: every count exact, every report point drawn.
``comite``
    Steering committees (default of every output): a person-related cell (building ×
    category × period) built from fewer than 3 distinct households is hidden, so is any
    cell where one household makes 85 % or more of the reports (serial reporter);
    technical categories are shown exactly. Residents' reports are aggregated to their
    building (no report point: counting points would give back the hidden cells); the
    walkthrough observations of the field staff stay drawn.
``public``
    Open data and press: every cell needs 11 households, else it is coarsened (month →
    quarter → year; building → hotspot zone or 50 m hexagon → site) until it does, and
    what is still below is hidden; counts rounded to base 5; no report point.

Example
-------
::

    [publication]
    ledger_dir = "data/ledger"          # frozen past periods (default: annotations_dir/.ledger)
    [publication.outputs]
    map = "comite"                      # map, png, charts, index, pack, gpkg (comite by default)
    exports = "public"                  # the open-data pack of `make public`
    [publication.profiles.public]
    min_households = 11

A site's ``[sites.publication]`` overrides the project's block key by key. Which
categories are person-related is the taxonomy's class of each (« personne »), which a site
changes with its ``category_classes`` (:func:`pipelines.taxonomy.check_category_classes`):
one setting, read by ingestion and publication alike. A profile or a threshold that does
not exist is refused with one French
:class:`~pipelines.errors.ConfigError` naming the key; a valid setting that changes
nothing (``min_households = 1``, one of map, png, charts and index below the others) is
warned at load (:func:`ineffective_settings`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pipelines.errors import ConfigError

#: The profiles, from the least to the most protective.
PROFILES = ("interne", "comite", "public")
#: The outputs a profile is chosen for (``pack``: the committee pack, issue 17; ``gpkg``:
#: the site's GeoPackage for QGIS, ``processed/<site>/vigie_<site>.gpkg``,
#: :mod:`pipelines.maps.gpkg`).
OUTPUTS = ("map", "png", "charts", "index", "pack", "exports", "gpkg")
#: The outputs that read ``published/``: its profile is the most protective of theirs.
READERS = ("map", "png", "charts", "index", "pack", "gpkg")
#: The default profile of each output: ``comite`` for what committees read; ``public``
#: for the open-data pack (``make public``: maps, CSV and GeoPackage).
DEFAULT_OUTPUTS = {**dict.fromkeys(OUTPUTS, "comite"), "exports": "public"}
#: How report points are published: all, only where their cell is shown, none.
POINT_RULES = ("all", "observations", "none")
#: Which cells the household minimum applies to.
PROTECT = ("none", "person_related", "all")
#: Coarsening levels, finest first.
TIME_LEVELS = ("month", "quarter", "year")
SPACE_LEVELS = ("building", "zone", "site")

#: What each threshold key takes and its range (ends included).
_RULE_KEYS: dict[str, tuple[type, float, float | None]] = {
    "min_households": (int, 1, None),
    "dominance_share": (float, 0.5, 1.0),
    "round_base": (int, 1, None),
}


@dataclass(frozen=True)
class ProfileRule:
    """The disclosure-control rule of one profile.

    Attributes
    ----------
    name
        ``interne``, ``comite`` or ``public``.
    min_households
        Fewest distinct households a protected cell is built from.
    dominance_share
        A protected cell where one household makes this share of the reports or more is
        hidden (1.0: never).
    protect
        Which cells the minimum applies to: ``none``, ``person_related``, ``all``.
    coarsen
        Coarsen a cell below the minimum (time, then space) before hiding it.
    round_base
        Published counts are rounded to this base (1: exact).
    points
        Report points: ``all``, ``observations`` (the walkthrough observations only:
        residents' reports are aggregated to their building, whose counts the profile
        protects; a point per report would give back every hidden building × month
        cell by counting points) or ``none``.
    """

    name: str
    min_households: int = 1
    dominance_share: float = 1.0
    protect: str = "none"
    coarsen: bool = False
    round_base: int = 1
    points: str = "all"

    @property
    def is_exact(self) -> bool:
        """Whether nothing is hidden, coarsened or rounded (the ``interne`` profile)."""
        return self.protect == "none" and self.round_base == 1

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for ``site.json`` and the audit."""
        return {
            "profile": self.name,
            "threshold": self.min_households,
            "dominance_share": self.dominance_share,
            "protect": self.protect,
            "coarsen": self.coarsen,
            "round_base": self.round_base,
            "points": self.points,
        }


#: The defaults of issue 16.
DEFAULT_RULES: dict[str, ProfileRule] = {
    "interne": ProfileRule("interne"),
    "comite": ProfileRule(
        "comite",
        min_households=3,
        dominance_share=0.85,
        protect="person_related",
        points="observations",
    ),
    "public": ProfileRule(
        "public",
        min_households=11,
        dominance_share=0.85,
        protect="all",
        coarsen=True,
        round_base=5,
        points="none",
    ),
}


@dataclass(frozen=True)
class PublicationSettings:
    """A site's ``[publication]`` block, checked, merged over the project's.

    Attributes
    ----------
    outputs
        Output (:data:`OUTPUTS`) to profile name.
    rules
        Profile name to its :class:`ProfileRule`.
    ledger_dir
        Where the published cells of closed past periods are kept, per site and profile
        (outside ``processed_dir``: ``make clean`` must not forget what was published);
        ``None``: ``<annotations_dir>/.ledger``, beside the planners' notes and as
        private as them (gitignored).
    """

    outputs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(DEFAULT_OUTPUTS))
    rules: Mapping[str, ProfileRule] = field(
        default_factory=lambda: MappingProxyType(dict(DEFAULT_RULES))
    )
    ledger_dir: str | None = None

    @property
    def readers_profile(self) -> str:
        """The profile of ``published/``, which the map, the PNG, the charts, the index and
        the committee pack and the QGIS GeoPackage read: the most protective of theirs
        (:data:`READERS`)."""
        used = [self.outputs[k] for k in READERS]
        return max(used, key=PROFILES.index)

    @property
    def exports_profile(self) -> str:
        """The profile of the open-data pack (``published_public/``, ``make public``)."""
        return self.outputs["exports"]

    def rule(self, profile: str | None = None) -> ProfileRule:
        """The rule of ``profile`` (default: :attr:`readers_profile`)."""
        return self.rules[profile or self.readers_profile]


#: Keys of the block.
BLOCK_KEYS = ("outputs", "profiles", "ledger_dir")


def _unknown(path: str, key: str, value: object, allowed: tuple[str, ...], what: str) -> None:
    close = difflib.get_close_matches(str(value), allowed, n=1)
    hint = f" Vouliez-vous dire « {close[0]} » ?" if close else ""
    raise ConfigError(
        path, f"{what} « {value} » inconnu(e).{hint} Possibles : {', '.join(allowed)}.", key=key
    )


def _table(raw: Any, path: str, key: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(path, "attendu une table.", key=key)
    return raw


def _check_block(raw: Any, path: str, where: str) -> dict[str, Any]:
    """Check one ``[publication]`` block (project's or a site's); the block itself."""
    block = _table(raw, path, where)
    for key in block:
        if key not in BLOCK_KEYS:
            _unknown(path, f"{where}.{key}", key, BLOCK_KEYS, "clé")
    outputs = _table(block.get("outputs", {}), path, f"{where}.outputs")
    for out, profile in outputs.items():
        if out not in OUTPUTS:
            _unknown(path, f"{where}.outputs.{out}", out, OUTPUTS, "sortie")
        if profile not in PROFILES:
            _unknown(path, f"{where}.outputs.{out}", profile, PROFILES, "profil")
        if out == "exports" and profile == "interne":
            raise ConfigError(
                path,
                "le paquet de données ouvertes ne peut pas être publié en profil « interne ».",
                key=f"{where}.outputs.{out}",
            )
    profiles = _table(block.get("profiles", {}), path, f"{where}.profiles")
    for name, values in profiles.items():
        pkey = f"{where}.profiles.{name}"
        if name not in PROFILES:
            _unknown(path, pkey, name, PROFILES, "profil")
        if name == "interne":
            raise ConfigError(
                path,
                "le profil « interne » publie tout exactement : il n'a pas de seuil.",
                key=pkey,
            )
        for key, value in _table(values, path, pkey).items():
            if key not in _RULE_KEYS:
                _unknown(path, f"{pkey}.{key}", key, tuple(_RULE_KEYS), "seuil")
            kind, low, high = _RULE_KEYS[key]
            ok = (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)  # TOML has nan and inf
            )
            if kind is int:
                ok = ok and isinstance(value, int)
            if not ok or value < low or (high is not None and value > high):
                what = "un nombre entier" if kind is int else "un nombre"
                bounds = f"entre {low} et {high}" if high is not None else f"≥ {low}"
                raise ConfigError(
                    path, f"attendu {what} {bounds}, trouvé {value!r}.", key=f"{pkey}.{key}"
                )
    ledger = block.get("ledger_dir", "-")
    if not isinstance(ledger, str) or not ledger.strip():
        raise ConfigError(path, "attendu un chemin de dossier non vide.", key=f"{where}.ledger_dir")
    return block


def ineffective_settings(
    settings: PublicationSettings, project: Any, site: Any, where: str = "sites[0]"
) -> list[tuple[str, str]]:
    """The settings of a site's publication that change nothing, as (key, French
    reason) pairs for a warning (they are valid: not an error).

    - ``min_households = 1``: every non-empty cell comes from at least one household,
      so the household rule hides nothing (the dominance rule still applies).
    - An output among the readers (:data:`READERS`) set to a less protective profile
      than another of them: they read the same published tables, at the most protective
      of their profiles (:attr:`PublicationSettings.readers_profile`), so it has no
      effect.

    Only values the configuration sets are named (``project`` and ``site`` are the raw
    blocks, for the key that set each: the site's over the project's).
    """

    def key_of(*parts: str) -> str | None:
        for prefix, block in ((f"{where}.publication", site), ("publication", project)):
            table: Any = block or {}
            for part in parts:
                table = table.get(part) if isinstance(table, dict) else None
            if table is not None:
                return ".".join((prefix, *parts))
        return None

    found: list[tuple[str, str]] = []
    for name, rule in settings.rules.items():
        key = key_of("profiles", name, "min_households")
        if key is not None and rule.min_households == 1:
            found.append(
                (
                    key,
                    f"min_households = 1 ne masque rien dans le profil « {name} » (toute case "
                    "non vide vient d'au moins un ménage) ; seule la règle de dominance "
                    "s'applique. Mettez au moins 2 (3 est la règle du comité, 11 celle des "
                    "données ouvertes).",
                )
            )
    readers = settings.readers_profile
    for out in READERS:
        key, profile = key_of("outputs", out), settings.outputs[out]
        if key is not None and PROFILES.index(profile) < PROFILES.index(readers):
            found.append(
                (
                    key,
                    f"{out} = « {profile} » est sans effet : la carte, le PNG, les graphiques, "
                    "l'index, le dossier de comité et le GeoPackage lisent les mêmes tableaux "
                    f"publiés, au profil le plus protecteur d'entre eux (ici « {readers} ») ; "
                    f"donnez le même profil à tous ({', '.join(READERS)}) pour qu'il "
                    "s'applique.",
                )
            )
    return found


def publication_settings(
    project: Any, site: Any, path: str, where: str = "sites[0]"
) -> PublicationSettings:
    """The publication settings of a site: its ``[sites.publication]`` over the project's
    ``[publication]`` over the defaults of issue 16.

    Parameters
    ----------
    project, site
        The raw TOML tables (``None`` or ``{}`` when absent).
    path, where
        The configuration file and the site's key (``sites[0]``), for messages.

    Raises
    ------
    ConfigError
        A profile, output, threshold, category or class that does not exist, or a
        threshold out of range: one French message naming the key.
    """
    top = _check_block(project or {}, path, "publication")
    own = _check_block(site or {}, path, f"{where}.publication")
    outputs = dict(DEFAULT_OUTPUTS)
    outputs.update(top.get("outputs", {}))
    outputs.update(own.get("outputs", {}))
    rules = dict(DEFAULT_RULES)
    for block in (top, own):
        for name, values in block.get("profiles", {}).items():
            base = rules[name]
            rules[name] = ProfileRule(
                name=name,
                min_households=int(values.get("min_households", base.min_households)),
                dominance_share=float(values.get("dominance_share", base.dominance_share)),
                protect=base.protect,
                coarsen=base.coarsen,
                round_base=int(values.get("round_base", base.round_base)),
                points=base.points,
            )
    return PublicationSettings(
        outputs=MappingProxyType(outputs),
        rules=MappingProxyType(rules),
        ledger_dir=own.get("ledger_dir", top.get("ledger_dir")),
    )
