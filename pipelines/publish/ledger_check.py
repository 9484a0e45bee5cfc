"""The checks that stop the publication before anything is written: a ledger left by
another build (:func:`check_ledger`: its reports' digests and the rule it was published
under, against these data and this profile) and an audit that failed anyway
(:func:`check_audit`), each with a French message saying what to do.

The ledger itself (what it keeps, why, and how it is read and written) is
:mod:`pipelines.publish.ledger`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.config.publication import ProfileRule
from pipelines.errors import PublicationError
from pipelines.publish.cells import among, microdata
from pipelines.publish.ledger import (
    COUNTED_COLUMNS,
    counted_part,
    ledger_level,
    ledger_stamp,
    read_stamp,
    report_digest,
)
from pipelines.publish.levels import LEVEL_FR, LEVELS, level_of

log = logging.getLogger(__name__)


#: Above this share of the reports a ledger counted that are gone from the data, moved
#: to another period, building or category, or filed under another household, the
#: ledger was not written from an earlier state of these data: a refresh of the same
#: export drops or reclassifies a few reports (duplicates found later, a corrected
#: category), a different build nearly all of them once the ledger keeps their digests
#: (Bondy's demo against other simulated data, seed 7 for 42: 6,663 of 6,663), and still
#: one in seven for a ledger written before it kept them (the periods alone: 1,033).
#: Below it the stage goes on and the audit decides.
STALE_SHARE = 0.1


#: French names of the engine's tables' dimensions, for the error of a failed audit
#: (the levels' own words, :data:`~pipelines.publish.levels.LEVEL_FR`, where a level).
DIM_FR = {
    **{dim: LEVEL_FR[dim] for dim in ("zone", "month", "quarter", "year")},
    "building_id": LEVEL_FR["building"],
    "category": "catégorie",
    "window": "fenêtre des chiffres clés",
    "group": "groupe de catégories",
    "rpls": "logements RPLS",
}


class LedgerMismatchError(PublicationError):
    """The ledger of a site and profile was written from other data or under another
    rule than the run's (:func:`check_ledger`)."""


def ledger_drift(ledger: pd.DataFrame | None, micro: pd.DataFrame, time: str) -> dict[str, int]:
    """How the reports the ledger counted stand in ``micro`` (:func:`microdata
    <pipelines.publish.cells.microdata>`; ``time`` the column of the ledger's period):
    ``counted`` (reports the ledger lists), ``missing`` (no longer counted), ``moved``
    (dated in another period, or, where the ledger kept its digest, counted on another
    building or category, or under another household); ``checked`` how many had a
    digest."""
    counted = counted_part(ledger)
    if counted is None:
        return {"counted": 0, "missing": 0, "moved": 0, "checked": 0}
    counted = counted.reindex(columns=list(COUNTED_COLUMNS))
    now = micro.assign(report_id=micro["report_id"].astype(str)).drop_duplicates("report_id")
    now = now.set_index("report_id")
    ids = counted["report_id"].astype(str)
    present = among(ids, now.index)
    here = now.reindex(ids)
    moved = present & (here[time].astype(str).to_numpy() != counted["month"].astype(str))
    digest = counted["digest"]
    has = digest.notna() & present
    if has.any():
        fresh = report_digest(here.loc[has.to_numpy()].reset_index())
        moved.loc[has] |= fresh.to_numpy() != digest[has].astype(str).to_numpy()
    return {
        "counted": len(counted),
        "missing": int((~present).sum()),
        "moved": int(moved.sum()),
        "checked": int(has.sum()),
    }


def _rule_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The keys of the rule and the person-related categories that differ, in words."""
    out = [
        f"{key} : {old_value} → {new['rule'].get(key)}"
        for key, old_value in (old.get("rule") or {}).items()
        if new["rule"].get(key) != old_value
    ]
    if sorted(old.get("person_related", [])) != sorted(new.get("person_related", [])):
        out.append(
            "catégories liées aux personnes : "
            f"{', '.join(old.get('person_related', [])) or 'aucune'} → "
            f"{', '.join(new.get('person_related', [])) or 'aucune'}"
        )
    return out


def reset_advice(site_id: str, profile: str) -> str:
    """What to do with a ledger that does not match the data, in French."""
    return (
        "Si ces données ou cette règle remplacent délibérément celles déjà publiées "
        "(autres données simulées, nouveau secret, nouvelle règle), archivez le registre "
        f"puis relancez : « make ledger-reset SITE={site_id} PROFILE={profile} » (ou "
        f"« vigie ledger-reset --config … --site {site_id} --profile {profile} ») ; les "
        "périodes déjà publiées seront alors recalculées, et deux dossiers successifs "
        "pourront se soustraire : ne le faites pas pour une simple actualisation. Sinon, "
        "relancez avec les données et la configuration de la dernière publication."
    )


def check_ledger(
    ledger: pd.DataFrame | None,
    reports: pd.DataFrame,
    *,
    rule: ProfileRule,
    person_related: frozenset[str],
    site_id: str,
    path: Path,
) -> dict[str, int]:
    """Stop before any computation when the ledger at ``path`` does not belong to
    ``reports`` (``reports.parquet``): written under another rule (its metadata against
    :func:`ledger_stamp`), or more than :data:`STALE_SHARE` of the reports it counted
    gone or changed (:func:`ledger_drift`). Returns the drift (all zeros without a
    ledger).

    Raises
    ------
    LedgerMismatchError
        In French: the site, the profile, the ledger's path, what differs and how to
        reset it deliberately (:func:`reset_advice`).
    """
    if ledger is None:
        return ledger_drift(None, reports, "month")
    micro = microdata(reports, zone_of={}, person_related=person_related)
    time = (level_of(ledger_level(ledger)) or LEVELS[0])[1]
    drift = ledger_drift(ledger, micro, time)
    profile = rule.name
    stamp = read_stamp(path)
    changes = _rule_changes(stamp, ledger_stamp(rule, person_related)) if stamp else []
    reasons = []
    if changes:
        reasons.append("la règle de publication a changé (" + " ; ".join(changes) + ")")
    off = drift["missing"] + drift["moved"]
    if drift["counted"] and off > STALE_SHARE * drift["counted"]:
        reasons.append(
            f"{off} des {drift['counted']} signalements qu'il a comptés dans les périodes "
            f"figées ont disparu ({drift['missing']}) ou changé de période, de bâtiment, "
            f"de catégorie ou de ménage ({drift['moved']})"
        )
    if reasons:
        raise LedgerMismatchError(
            f"site « {site_id} », profil « {profile} » : le registre des périodes publiées "
            f"({path}) ne correspond pas à ces données : "
            + " ; ".join(reasons)
            + ". Rien n'a été publié. "
            + reset_advice(site_id, profile)
        )
    if off:
        log.warning(
            "%s: %d of the %d reports the ledger counted are gone or changed",
            path,
            off,
            drift["counted"],
        )
    return drift


def failed_tables(audit: Mapping[str, Any]) -> list[str]:
    """The published tables the audit (``publication_audit.json``) failed on, in
    French: those where a hidden cell can be recalculated or a sensitive cell is shown,
    and the frozen periods whose cells a person-related hidden cell depends on."""
    joint = audit.get("joint") or {}
    out = unprotected_tables(joint.get("tables", []))
    person = set(audit.get("person_related", []))
    frozen = [p for p in audit.get("frozen_problems", []) if p["keys"].get("category") in person]
    if frozen:
        out.append(f"tableau mensuel figé ({len(frozen)} case(s) liée(s) aux personnes)")
    return out


def unprotected_tables(tables: Sequence[Mapping[str, Any]]) -> list[str]:
    """The tables of an engine's audit (its ``tables``) where a hidden cell can be
    recalculated or a sensitive cell is shown, each named by its dimensions in French
    with its counts."""
    out = []
    for t in tables:
        if t.get("n_unprotected") or t.get("n_sensitive_shown"):
            dims = [str(d) for d in t.get("dims", ())]
            name = " × ".join(DIM_FR.get(d, d) for d in dims) or "total du site"
            out.append(
                f"{name} ({int(t.get('n_unprotected') or 0)} case(s) masquée(s) "
                f"recalculable(s), {int(t.get('n_sensitive_shown') or 0)} case(s) "
                "sensible(s) montrée(s))"
            )
    return out


def check_audit(
    audit: Mapping[str, Any],
    *,
    site_id: str,
    ledger_file: Path,
    drift: Mapping[str, int] | None = None,
) -> None:
    """Stop the publication when its audit failed: no pack whose hidden cells can be
    recalculated is ever written for readers.

    Raises
    ------
    PublicationError
        In French: the site, the profile, the tables that fail, and what to do (a ledger
        that no longer matches the data is the usual cause: :func:`reset_advice`).
    """
    if audit.get("passed"):
        return
    profile = str(audit.get("profile", ""))
    tables = failed_tables(audit) or ["voir l'audit"]
    frozen = audit.get("frozen_periods") or []
    cause = ""
    if frozen:
        changed = (drift or {}).get("missing", 0) + (drift or {}).get("moved", 0)
        cause = (
            f" Cause probable : les {len(frozen)} période(s) figée(s) du registre "
            f"({ledger_file}) ne s'accordent plus avec ces données"
            + (f" ({changed} signalement(s) compté(s) disparu(s) ou changé(s))" if changed else "")
            + ". "
            + reset_advice(site_id, profile)
        )
    raise PublicationError(
        f"site « {site_id} », profil « {profile} » : l'audit du secret statistique a "
        f"échoué (des cases masquées peuvent être recalculées) sur : {' ; '.join(tables)}. "
        "Rien n'a été publié pour les lecteurs." + cause
    )
