"""Seeded simulator of VTS reports over the real Bondy Nord buildings (données simulées).

In-building malfunctions (lifts, leaks, pests) have no open dataset, so the embedded
default site gets simulated reports placed on REAL OpenStreetMap footprints and REAL
Base Adresse Nationale (BAN) addresses. This docstring is the method note to cite
wherever these data are shown: every map built on them must say « données simulées ».

Generative model
----------------
**Buildings** (:func:`building_profile`). A footprint is *residential* when OSM tags it
``building=yes`` without a name (or with a « Résidence » name) and it covers at least
30 m²; hospitals, schools, public and named commercial buildings receive no report. It
is *social housing* when an RPLS programme point lies within 30 m (nearest residential
footprint), or when it covers ≥ 350 m² and an RPLS point lies within 100 m (same
estate); without RPLS, the 350 m² footprint alone decides. Floors come from the RPLS
``etage`` when matched, else from the footprint (≥ 600 m²: 8, ≥ 350 m²: 4, ≥ 150 m²:
3, else 2). It is *tall* (it has lifts) when the RPLS says 5 floors or more, or it covers
≥ 600 m². Dwellings are the RPLS ``appartement`` sum when matched, else
``area_m2 × floors / 65`` capped at 150. A building's *exposure* is its dwellings, times
0.15 when it is not social housing (a landlord's tickets mostly concern its own stock).

**Background.** ``N = 6,800`` reports in all (before planted duplicates and bad rows,
and the action register's planted problems, about 300 more);
the background gets whatever the planted components leave (about 65 %). It is spread
over buildings in proportion to exposure (multinomial); categories follow a fixed mix
(:data:`CATEGORY_MIX`; ``ascenseur`` only in tall buildings; 1.2 % carry a label outside
the taxonomy, :data:`UNKNOWN_LABELS`); times are uniform over the period, except heating
(``chauffage``), whose month is drawn in proportion to :data:`HEATING_SEASON` (peak
November–February) times the month's length.

**Planted patterns** (``pattern=True`` only, all in the truth):

- *Hotspots*: 2 clusters. A centre is a social-housing building with 8 to 20
  residential buildings of ≥ 150 m² within 120 m (the radius shrinks to the 20th when
  there are more); centres are drawn from the sparser half of the candidates (fewest
  footprints within 150 m: estates rather than streets of houses), preferring those
  where at least half the members have a BAN address, ≥ 400 m apart. Each member gets
  ``2 × its own background`` extra reports, clipped to 90–160 over 24 months, with
  tranquillity and cleanliness categories weighted ×2.5. The second cluster's extra is
  uniform in time (persistent); the first one's ramps linearly from 0.3 to 1.7 times
  its mean (an *intensifying* hotspot, listed under ``rising`` by its centre).
- *Lift towers*: the 4 tallest social-housing buildings outside the clusters get 45
  extra ``ascenseur`` reports each, uniform in time.
- *Chronic* (building, category) pairs: 5 pairs on other social-housing buildings
  (lifts in 2 tall ones, leaks, pests, access control), each with 5 episodes of 3–4
  reports 5–25 days apart (so ≥ 3 within 90 days, again and again).
- *Rising* groups: a residential building of ≥ 150 m² outside the social stock (a
  condominium sliding into difficulty) with up to 5 of its like (≥ 100 m²) within 80 m,
  ≥ 250 m from the cluster centres and 200 m from each other, drawn from the quieter
  half (least expected background within 150 m) of the sparsest quarter (fewest
  footprints within 150 m), where a surge is not drowned. ``consecutive``: 40 extra
  reports a month shared evenly over the group during the last 5 months; ``new``: 50 in
  the final month only. Monthly Gi* uses one spread (S) for all buildings: a surge piled
  on one building would inflate it and hide the other patterns of that month, hence the
  sharing, and only one group of each kind.
- *Seasonality*: heating, as above.

With ``pattern=False`` the same ``N`` is background only, heating included: spread in
proportion to exposure (building size and tenure), uniform in time. Gi* on raw counts
still sees the estates (exposure is spatially clustered); on counts divided by exposure
(:func:`building_profile`) it should flag no more than its nominal rate.

**Separation.** Two reports of the same category less than 96 h apart (48 h duplicate
window, 36 h planted offset, 12 h margin) on the same building, or whose positions are
less than 30 m apart, would pass for a duplicate: the later one's time is redrawn within
its month (dropped after 40 draws), so that the only likely duplicates are the planted
ones.

**How rows are written.** A report's location is written as the address only (about
35 %), coordinates only (40 %) or both (25 %). Only buildings with an unambiguous BAN
address (nearest footprint within 20 m, the next one at least 3 m farther, see
:func:`address_candidates`) can carry one, so the mix is solved for the share of reports
on such buildings; on Bondy Nord that share is about 56 %, so every such report carries
an address (7 in 12 the address only) and the mix comes out near 32 / 45 / 23 %. An
address is a BAN address of the true building (house number and suffix kept; the
extract's double-encoded accents repaired, :func:`repair_mojibake`)
spelled as residents type it (:func:`format_address`). Coordinates are a point inside
the true footprint (11 % of them 2–6 m outside, every other footprint being at least
3 m farther), WGS84, 6 decimals, decimal comma. Personal columns (fake names, phone
numbers in the ARCEP ranges reserved for fiction, flat numbers) and personal details in
descriptions (phones, e-mails at ``exemple.fr``, flat and door numbers) are planted for
ingestion to remove. Closure delays are log-normal per category (:data:`DELAYS`; lifts:
median 2 days, 15 % between 10 and 25 days); a report not closed by the export date (the
end of the period) is « Ouvert » or « En cours ».

**Bad rows** (truth ``bad_rows``, by ticket): 15 missing dates, 12 unparseable
coordinates, 10 coordinates in Marseille (outside the study area), all the tickets of a
4-day window repeated whole (exact duplicates, as when an export is sent twice) and 40
likely duplicates (a neighbour reporting the same problem on the same building 1–36 h
later, at most 15 m away or at the same address).

**Households** (truth ``households``, ticket → household; ``serial_households``): each
ticket's name, phone and dwelling reference are those of one household of its building
(:mod:`pipelines.simulate.households`): about a third of the tickets come from a household
that already reported, and in three of the busiest buildings one household files more
a quarter of them (serial reporters); a likely duplicate comes from another household.

**Action register** (:mod:`pipelines.simulate.actions`, truth ``actions``). Twenty
actions decided in committee (a comité technique every other month, its second Tuesday;
a comité de pilotage every six months instead), written as an analyst keeps them
(``actions.csv``, ``;``, UTF-8 with BOM, the French headers of the register): five that
worked, two that did not, two on buildings with no planted problem, one carried out too
recently to be measured, and ten not carried out (proposed, decided, under way, waiting
for a partner, postponed, refused, abandoned; four of them past their due date). The
actions on patterns target them (the intensifying hotspot, a lift tower, the chronic
leak, the condominium on the rise); the others get free residential buildings (social
housing first), 110 m apart, in groups of up to three within 80 m (three for a
planted problem, where the site allows: one building takes about one report of a
category every four days, the separation pass thins more), none within 150 m of a
hotspot's or rising group's building (more than a Gi* distance band, so that a planted
problem neither lights up nor hides them). An action
that *worked* fixed a planted problem: from the start of the six months before its
completion (or the month before), 5–7 extra reports a month of its category on its
target, which stop when it is carried out (or drop to 10–20 % of that until the end of
the six months after it); an action that *did not work* has the same problem going on
through the six months after it. Completions fall in months 14–17 (March–June of the
second year), so that six months before and after fit in the period, and no planted
problem starts before month 7, leaving the intensifying hotspot's faint first months
alone. The truth gives, per action, its target, dates, status, whether it is overdue,
whether a problem and an effect were planted, and the expected counts on its target in
the six months before and after (planted problem plus background) with their ratio.

The register draws everything (targets, dates, the planted problems' reports and how
their rows are written) from its own random stream (``[seed, 17]``), and its reports
come on top of the ``N`` others: those are drawn and written exactly as they would be
without it (only the ticket numbers and the households, given in time order, differ).
A null simulation (no pattern) writes a register whose actions had no planted problem.

**Observations.** Five walks (« diagnostic en marchant ») of 30 points 2–12 m outside
footprints (two through the clusters when there is a pattern) and three KoboToolbox
building tours of 40 submissions (points inside footprints plus GPS noise, two without
a location).

Everything is drawn from ``numpy.random.default_rng(seed)`` (and the streams of the
households and of the action register, seeded from it) over inputs sorted by
identifier, so a seed gives byte-identical files.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from pipelines.errors import InputError
from pipelines.io import atomic_path, write_csv, write_json, write_text
from pipelines.osm import read_osm_bounds, read_osm_buildings, read_rpls
from pipelines.simulate.actions import REGISTER_COLUMNS, REGISTER_FILE, SCENARIO
from pipelines.simulate.buildings import (
    ESTATE_M,
    MAX_GUESSED_DWELLINGS,
    OTHER_TENURE,
    RPLS_MATCH_M,
    address_candidates,
    addresses_in_bounds,
    building_profile,
    landlord_codes,
    repair_mojibake,
)
from pipelines.simulate.core import (
    FILES,
    Simulation,
    simulate,
)
from pipelines.simulate.observations import (
    KOBO_MIX,
    WALK_MIX,
    geojson_text,
)
from pipelines.simulate.patterns import (
    CATEGORY_MIX,
    HEATING_SEASON,
    HOT_EXTRA_RANGE,
    HOT_FACTOR,
    HOT_RAMP,
    HOTSPOT_TILT,
    LIFT_EXTRA,
    N_REPORTS,
    RISING_GROUP_M,
    RISING_LEVEL,
    RISING_NEW,
    RISING_PATTERNS,
    RISING_RUNS,
    SEPARATION_H,
    SEPARATION_M,
)
from pipelines.simulate.rows import (
    BAD_COUNTS,
    CHANNEL_P,
    CHANNELS,
    DELAYS,
    DESCRIPTIONS,
    EXACT_DUPLICATE_DAYS,
    FICTION_PHONE_PREFIXES,
    FIRST_NAMES_F,
    FIRST_NAMES_M,
    KOBO_COLUMNS,
    MARSEILLE,
    N_LIKELY_DUPLICATES,
    OUTSIDE_SHARE,
    PERSONAL_COLUMNS,
    REPORT_COLUMNS,
    STREET_TYPES,
    SUBCATEGORIES,
    SURNAMES,
    UNKNOWN_LABELS,
    format_address,
)

# The implementation lives in private modules (STYLE: split past ~500 lines); every
# public name is re-exported here.
__all__ = [
    "BAD_COUNTS",
    "CATEGORY_MIX",
    "CHANNELS",
    "CHANNEL_P",
    "DELAYS",
    "DESCRIPTIONS",
    "ESTATE_M",
    "EXACT_DUPLICATE_DAYS",
    "FICTION_PHONE_PREFIXES",
    "FILES",
    "FIRST_NAMES_F",
    "FIRST_NAMES_M",
    "HEATING_SEASON",
    "HOTSPOT_TILT",
    "HOT_EXTRA_RANGE",
    "HOT_FACTOR",
    "HOT_RAMP",
    "KOBO_COLUMNS",
    "KOBO_MIX",
    "LIFT_EXTRA",
    "MARSEILLE",
    "MAX_GUESSED_DWELLINGS",
    "N_LIKELY_DUPLICATES",
    "N_REPORTS",
    "OTHER_TENURE",
    "OUTSIDE_SHARE",
    "PERSONAL_COLUMNS",
    "REGISTER_COLUMNS",
    "REGISTER_FILE",
    "REPORT_COLUMNS",
    "RISING_GROUP_M",
    "RISING_LEVEL",
    "RISING_NEW",
    "RISING_PATTERNS",
    "RISING_RUNS",
    "RPLS_MATCH_M",
    "SCENARIO",
    "SEPARATION_H",
    "SEPARATION_M",
    "STREET_TYPES",
    "SUBCATEGORIES",
    "SURNAMES",
    "UNKNOWN_LABELS",
    "WALK_MIX",
    "Simulation",
    "address_candidates",
    "addresses_in_bounds",
    "building_profile",
    "format_address",
    "geojson_text",
    "landlord_codes",
    "read_ban",
    "repair_mojibake",
    "run",
    "simulate",
]

log = logging.getLogger(__name__)


def _write_delimited(frame: pd.DataFrame, dst: Path, *, sep: str, encoding: str, eol: str) -> Path:
    with atomic_path(dst) as tmp:
        frame.to_csv(tmp, sep=sep, index=False, encoding=encoding, lineterminator=eol)
    log.info("wrote %s (%d rows)", dst, len(frame))
    return dst


def read_ban(path: str | Path) -> pd.DataFrame:
    """Read the BAN extract (comma-separated, quoted, ``NA`` for missing)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "fichier BAN introuvable.")
    try:
        frame = pd.read_csv(path, na_values=["NA"], keep_default_na=False, dtype=str)
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError(path, f"CSV BAN illisible ({err})") from err
    missing = [
        c for c in ("numero", "rep", "nom_voie", "code_postal", "lon", "lat") if c not in frame
    ]
    if missing:
        raise InputError(path, f"colonnes manquantes : {', '.join(missing)}")
    return frame


def run(
    osm_path: str | Path,
    ban_path: str | Path,
    out_dir: str | Path,
    *,
    rpls_path: str | Path | None = None,
    seed: int = 42,
    pattern: bool = True,
    actions_dir: str | Path | None = None,
) -> dict[str, Path]:
    """Read the real Bondy inputs, simulate, and write the files atomically.

    The action register (``actions.csv``: ``;``, UTF-8 with BOM, as a spreadsheet saves
    it) goes to ``actions_dir`` (the site's register folder, ``data/actions/bondy``),
    or beside the other files when it is not given.

    Returns
    -------
    dict
        ``reports``, ``walk``, ``kobo``, ``truth``, ``gazetteer`` (names in :data:`FILES`)
        and ``actions`` → written paths.
    """
    out = Path(out_dir)
    buildings = read_osm_buildings(osm_path)
    bounds = read_osm_bounds(osm_path)
    addresses = addresses_in_bounds(read_ban(ban_path), bounds)
    rpls = read_rpls(rpls_path) if rpls_path else None
    sim = simulate(buildings, addresses, seed=seed, pattern=pattern, rpls=rpls, study_area=bounds)
    paths = {key: out / name for key, name in FILES.items()}
    _write_delimited(sim.reports, paths["reports"], sep=";", encoding="cp1252", eol="\r\n")
    write_text(geojson_text(sim.walk_geojson), paths["walk"])
    _write_delimited(sim.kobo, paths["kobo"], sep=",", encoding="utf-8", eol="\n")
    write_json(sim.truth, paths["truth"])
    # The landlord's table of its building codes: the analyst's gazetteer (key →
    # building_id) that the geocoder reads, as a landlord would hand it over.
    codes = sim.truth["building_codes"]
    gazetteer = pd.DataFrame({"key": list(codes), "building_id": list(codes.values())})
    write_csv(gazetteer.sort_values("key", ignore_index=True), paths["gazetteer"])
    paths["actions"] = Path(actions_dir if actions_dir is not None else out) / REGISTER_FILE
    _write_delimited(sim.actions, paths["actions"], sep=";", encoding="utf-8-sig", eol="\r\n")
    return paths
