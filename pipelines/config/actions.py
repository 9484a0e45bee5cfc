"""The parameters of the action register (``[params.actions]``), checked.

Example
-------
::

    [sites.params.actions]
    partners = ["bailleur", "ville", "syndic", "État", "police",
                "association de locataires", "prestataire", "centre social"]
    effect_window_months = 6

Defaults are :data:`pipelines.config.defaults.DEFAULT_PARAMS`; every bad value raises a
:class:`~pipelines.errors.ConfigError` naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.config.defaults import DEFAULT_PARAMS
from pipelines.config.values import toml_type
from pipelines.errors import ConfigError
from pipelines.fr import fold


@dataclass(frozen=True)
class ActionSettings:
    """The ``[params.actions]`` section, checked (defaults: ``DEFAULT_PARAMS["actions"]``).

    Attributes
    ----------
    partners
        The organisations a register may name as lead partner (``partenaire_pilote``),
        in the order the template offers them; compared without case or accents.
    effect_window_months
        Length of each of the two windows (before, after the action's completion) of the
        effect estimate, in months.
    effect_min_reports
        Fewest target reports (both windows together) for the effect estimate to
        conclude; below, it says « trop peu de signalements ».
    """

    partners: tuple[str, ...]
    effect_window_months: int
    effect_min_reports: int

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], path: str = "configuration") -> ActionSettings:
        """Check and convert the parameters (defaults fill what is not set); a bad value
        raises :class:`ConfigError` naming ``params.actions.<key>``."""
        params = {**DEFAULT_PARAMS["actions"], **dict(raw)}

        def bad(key: str, what: str) -> ConfigError:
            return ConfigError(path, what, key=f"params.actions.{key}")

        unknown = sorted(set(params) - set(cls.__dataclass_fields__))
        if unknown:
            known = ", ".join(sorted(cls.__dataclass_fields__))
            raise bad(unknown[0], f"paramètre inconnu ; possibles : {known}.")
        partners = params["partners"]
        if not isinstance(partners, list | tuple) or not partners:
            raise bad(
                "partners",
                f"attendu une liste non vide d'organisations, trouvé {toml_type(partners)}.",
            )
        seen: dict[str, str] = {}
        for i, name in enumerate(partners):
            if not isinstance(name, str) or not name.strip():
                raise bad(
                    f"partners[{i}]",
                    f"attendu le nom d'une organisation (texte non vide), trouvé "
                    f"{toml_type(name)}.",
                )
            key = fold(name.strip())
            if key in seen:
                raise bad(
                    f"partners[{i}]",
                    f"« {name} » est déjà dans la liste (« {seen[key]} ») : les partenaires "
                    "sont comparés sans majuscules ni accents.",
                )
            seen[key] = name.strip()
        for key, low in (("effect_window_months", 1), ("effect_min_reports", 1)):
            value = params[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise bad(key, f"attendu un entier ≥ {low}, trouvé {value!r}.")
        return cls(
            partners=tuple(seen.values()),
            effect_window_months=int(params["effect_window_months"]),
            effect_min_reports=int(params["effect_min_reports"]),
        )
