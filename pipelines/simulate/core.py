"""The simulator's assembly: :func:`simulate` and its :class:`Simulation` result.

Private plumbing of :mod:`pipelines.simulate.stage` (whose docstring is the method note).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pipelines.crs import WGS84
from pipelines.simulate.actions import PlannedAction, plan_actions, plant_reports
from pipelines.simulate.buildings import address_candidates, building_profile, landlord_codes
from pipelines.simulate.households import Household, Households
from pipelines.simulate.observations import _kobo, _walk
from pipelines.simulate.patterns import HEATING_SEASON, _Calendar, _Event, _plan, _separate
from pipelines.simulate.register import action_ids, action_truth, register_rows
from pipelines.simulate.rows import (
    BAD_COUNTS,
    CHANNEL_P,
    CHANNELS,
    DELAYS,
    EXACT_DUPLICATE_DAYS,
    MARSEILLE,
    N_LIKELY_DUPLICATES,
    OUTSIDE_SHARE,
    REPORT_COLUMNS,
    SUBCATEGORIES,
    UNKNOWN_LABELS,
    _description,
    _fmt_coord,
    _fmt_date,
    _Geo,
    _label,
    _person,
    _phone,
    _pick,
    format_address,
)

# The simulator's logger, named as before the split.
log = logging.getLogger("pipelines.simulate.stage")

FILES = {
    "reports": "signalements_bailleur.csv",
    "walk": "observations_diagnostic.geojson",
    "kobo": "observations_kobo.csv",
    "truth": "simulation_truth.json",
    "gazetteer": "gazetteer.csv",
}


# ----------------------------------------------------------------------------- results
@dataclass
class Simulation:
    """What :func:`simulate` returns.

    Attributes
    ----------
    reports
        The landlord's ticketing export, columns :data:`REPORT_COLUMNS`, all strings,
        exactly as written to ``signalements_bailleur.csv``.
    walk_geojson
        Walkthrough observations, EPSG:4326 points with ``date``, ``theme``,
        ``commentaire``, ``auteur``, ``photo``.
    kobo
        KoboToolbox export, columns :data:`KOBO_COLUMNS`, all strings.
    truth
        The planted truth (JSON-serialisable), see :func:`simulate`.
    actions
        The committees' action register, columns
        :data:`pipelines.simulate.actions.REGISTER_COLUMNS`, all strings.
    """

    reports: pd.DataFrame
    walk_geojson: gpd.GeoDataFrame
    kobo: pd.DataFrame
    truth: dict[str, Any] = field(default_factory=dict)
    actions: pd.DataFrame = field(default_factory=pd.DataFrame)


# ------------------------------------------------------------------------------ simulate
def simulate(
    buildings: gpd.GeoDataFrame,
    addresses: pd.DataFrame,
    *,
    seed: int = 42,
    start: str = "2024-01-01",
    months: int = 24,
    pattern: bool = True,
    rpls: gpd.GeoDataFrame | None = None,
    study_area: tuple[float, float, float, float] | None = None,
) -> Simulation:
    """Simulate a landlord's ticketing export, walkthrough and Kobo observations.

    Pure: no I/O. The generative model is described in the docstring of
    :mod:`pipelines.simulate.stage`.

    Parameters
    ----------
    buildings
        Output of :func:`pipelines.osm.buildings.read_osm_buildings` (EPSG:4326), with
        ``building_id``, ``building_type``, ``name``.
    addresses
        BAN rows (``numero``, ``rep``, ``nom_voie``, ``code_postal``, WGS84 ``lon``,
        ``lat``), already restricted to the study area (:func:`addresses_in_bounds`).
    seed
        Seed of :func:`numpy.random.default_rng`; a seed gives identical outputs.
    start, months
        First day of the period (ISO) and its length in months (≥ 6).
    pattern
        Plant hotspots, chronic pairs, rising buildings, lift towers and heating
        seasonality; ``False`` gives the null data set (same volume, no pattern).
    rpls
        RPLS points (``appartement``, ``etage``; any CRS) to decide social housing and
        towers; without it the footprint area alone decides.
    study_area
        (west, south, east, north) in degrees (EPSG:4326), e.g. the OSM extract's
        ``<bounds>``: footprints less than half inside get no report, and every point
        written lies inside. Default: the footprints' own extent.

    Returns
    -------
    Simulation
        ``truth`` holds: ``seed``, ``pattern``, ``period`` (start, end exclusive,
        months), ``row_counts`` per file, ``hotspots`` (centre lon/lat, ``radius_m``,
        ``building_ids``), ``hotspot_buildings``, ``chronic`` (building_id, category,
        dates), ``rising`` (building_id, pattern, first_month), ``seasonal``,
        ``lift_towers``, ``tall_buildings``, ``address_buildings`` and
        ``coordinate_buildings`` (ticket → true building_id), ``coordinates_outside``
        (tickets whose point lies a few metres outside the footprint), ``location_mix``,
        ``bad_rows`` (ticket → reason), ``duplicate_of`` (ticket → first ticket),
        ``households`` (ticket → household id), ``serial_households``,
        ``unknown_label_rows``, ``unknown_labels``, ``pii_in_description`` (ticket →
        kinds), ``building_codes`` (code → building_id), ``kobo_buildings``
        (``_uuid`` → building_id), ``walk_dates`` and ``actions`` (the register's truth:
        :func:`pipelines.simulate.register.action_truth`).
    """
    if months < 6:
        raise ValueError("months must be at least 6 (rising patterns need monthly steps)")
    if buildings.empty:
        raise ValueError("no building to simulate reports on")
    buildings = buildings.sort_values("building_id").reset_index(drop=True)
    addresses = addresses.sort_values(["nom_voie", "numero", "rep", "lon", "lat"]).reset_index(
        drop=True
    )
    rng = np.random.default_rng(seed)
    cal = _Calendar(start, months)
    area = study_area or tuple(float(v) for v in buildings.to_crs(WGS84).total_bounds)
    geo = _Geo(buildings, area)  # type: ignore[arg-type]
    profile = building_profile(buildings, rpls).reset_index(drop=True)
    outside_area = geo.in_area < 0.5
    profile.loc[outside_area, ["is_residential", "is_social", "is_tall"]] = False
    profile.loc[outside_area, "exposure"] = 0.0
    ids = buildings["building_id"].astype(str).to_numpy()
    cands = address_candidates(addresses, buildings)
    by_building: dict[int, list[tuple[Any, ...]]] = {}
    fields = ["numero", "rep", "street", "postcode", "x_m", "y_m"]
    for pos, rec in zip(cands["pos"], cands[fields].itertuples(index=False), strict=True):
        by_building.setdefault(int(pos), []).append(tuple(rec))
    codes = landlord_codes(profile)

    addressable = np.zeros(len(buildings), dtype=bool)
    addressable[list(by_building)] = True
    # The action register draws everything (targets, dates, its planted reports, their
    # rows) from its own stream, and its reports come last: every other report is drawn
    # and written as it would be without the register (only ticket numbers and
    # households, numbered and drawn in time order, differ).
    arng = np.random.default_rng([seed, 17])
    planned: list[PlannedAction] = []

    def place_actions(plan: dict[str, Any], add: Any) -> None:
        planned.extend(plan_actions(profile, cal, arng, plan, pattern=pattern))
        if pattern:
            plant_reports(planned, cal, arng, add)

    events, plan = _plan(profile, cal, rng, pattern, addressable, then=place_actions)

    # Location mode: the address-capable share decides the mix (pipelines.simulate.stage docstring).
    has_addr = np.array([ev.pos in by_building for ev in events])
    # (solved on the reports other than the register's, which must not change them)
    others = np.array([ev.role != "action" for ev in events], dtype=bool)
    f = max(float(has_addr[others].mean()) if others.any() else 0.0, 1e-9)
    # Below 60 % of address-capable reports the shortfall is shared by both address
    # modes (all such reports then carry an address), not borne by one of them.
    p_addr, p_both = (0.35 / f, 0.25 / f) if f >= 0.6 else (0.35 / 0.6, 0.25 / 0.6)
    log.info("address-capable share %.2f: address only %.2f, both %.2f", f, p_addr, p_both)
    modes: list[str] = []
    points: list[tuple[float, float, float, float] | None] = []
    addr_rows: list[int | None] = []
    positions: list[list[tuple[float, float]]] = []
    is_outside: list[bool] = []
    for ev, can in zip(events, has_addr, strict=True):
        g = arng if ev.role == "action" else rng  # the register draws apart
        u = g.random()
        mode = (
            "address" if can and u < p_addr else "both" if can and u < p_addr + p_both else "coords"
        )
        pt: tuple[float, float, float, float] | None = None
        off = False
        if mode != "address":
            if g.random() < OUTSIDE_SHARE:
                pt = geo.near(g, ev.pos, 2.0, 6.0)
                off = pt is not None
            if pt is None:
                pt = geo.inside(g, ev.pos)
        a_idx = int(g.integers(len(by_building[ev.pos]))) if mode in ("address", "both") else None
        pos_list = []
        if pt is not None:
            pos_list.append((pt[0], pt[1]))
        if a_idx is not None:
            _n, _r, _s, _p, ax, ay = by_building[ev.pos][a_idx]
            pos_list.append((float(ax), float(ay)))
        modes.append(mode)
        points.append(pt)
        addr_rows.append(a_idx)
        positions.append(pos_list)
        is_outside.append(off)

    keep = _separate(events, positions, cal, rng, arng)

    # Planted likely duplicates: a neighbour reports the same problem within 36 h.
    originals = [i for i in keep if events[i].role == "background"]
    originals = [
        i
        for i in originals
        if cal.starts[0] + 2 * 1440 < events[i].minute < cal.starts[-1] - 3 * 1440
    ]
    dup_of: dict[int, int] = {}
    for k in rng.choice(
        len(originals), size=min(N_LIKELY_DUPLICATES, len(originals)), replace=False
    ):
        i = originals[int(k)]
        ev = events[i]
        j = len(events)
        minute = ev.minute + int(rng.integers(60, 36 * 60))
        events.append(_Event(ev.pos, ev.category, minute, "likely_duplicate", cal.month_of(minute)))
        first_point = points[i]
        points.append(
            None
            if first_point is None
            else geo.near_point(rng, ev.pos, first_point[0], first_point[1], 15.0)
        )
        modes.append(modes[i])
        is_outside.append(False)
        addr_rows.append(addr_rows[i])
        positions.append([])
        dup_of[j] = i
    rows = sorted(
        [*keep, *dup_of], key=lambda i: (events[i].minute, events[i].pos, events[i].category, i)
    )

    # Tickets in creation order.
    ticket: dict[int, str] = {}
    per_year: dict[int, int] = {}
    for i in rows:
        year = cal.time(events[i].minute).year
        per_year[year] = per_year.get(year, 0) + 1
        ticket[i] = f"DI-{year}-{per_year[year]:05d}"

    # Bad rows, disjoint from the planted patterns and the duplicate pairs.
    paired = set(dup_of) | set(dup_of.values())
    plain = [i for i in rows if events[i].role == "background" and i not in paired]
    coord_only = [i for i in plain if modes[i] == "coords"]
    bad: dict[int, str] = {}
    chosen = rng.choice(
        len(coord_only),
        size=BAD_COUNTS["bad_coordinates"] + BAD_COUNTS["outside_study_area"],
        replace=False,
    )
    for n, k in enumerate(chosen):
        reason = "bad_coordinates" if n < BAD_COUNTS["bad_coordinates"] else "outside_study_area"
        bad[coord_only[int(k)]] = reason
    rest = [i for i in plain if i not in bad]
    for k in rng.choice(len(rest), size=BAD_COUNTS["missing_date"], replace=False):
        bad[rest[int(k)]] = "missing_date"
    day0 = int(rng.integers(30, max(31, int(cal.starts[-1] // 1440) - 30)))
    window = (day0 * 1440, (day0 + EXACT_DUPLICATE_DAYS) * 1440)
    repeated = [
        i
        for i in rows
        if window[0] <= events[i].minute < window[1] and i not in bad and i not in paired
    ]

    # Who files each ticket (pipelines.simulate.households: their own random stream).
    per_building: dict[int, int] = {}
    for i in rows:
        per_building[events[i].pos] = per_building.get(events[i].pos, 0) + 1
    households = Households.start(seed, per_building)
    household_of: dict[int, Household] = {}
    truth_households: dict[str, str] = {}

    # Render rows.
    by_row: dict[int, list[str]] = {}
    truth_addr: dict[str, str] = {}
    truth_coord: dict[str, str] = {}
    outside: list[str] = []
    pii: dict[str, list[str]] = {}
    bad_rows: dict[str, str] = {}
    duplicate_of: dict[str, str] = {}
    mix = {"address_only": 0, "coordinates_only": 0, "both": 0}
    for i in rows:
        ev = events[i]
        g = arng if ev.role == "action" else rng
        t = ticket[i]
        created = cal.time(ev.minute)
        name, handle = _person(g)
        description, kinds = _description(g, ev.category, handle)
        if kinds:
            pii[t] = kinds
        code = codes.get(ev.pos, "")
        part = code.split("-", 1)[1] if code else ""
        address = ""
        if addr_rows[i] is not None:
            numero, rep_, street, postcode, _x, _y = by_building[ev.pos][int(addr_rows[i])]  # type: ignore[arg-type]
            address = format_address(g, int(numero), str(rep_), str(street), str(postcode), part)
            truth_addr[t] = ids[ev.pos]
        lat = lon = ""
        pt = points[i]
        if pt is not None:
            lat, lon = _fmt_coord(pt[3]), _fmt_coord(pt[2])
            if bad.get(i) == "bad_coordinates":
                lat, lon = (
                    (lat[:5] + "," + lat[5], lon[:4] + "," + lon[4])
                    if g.random() < 0.5
                    else ("abc", "abc")
                )
            elif bad.get(i) == "outside_study_area":
                lat = _fmt_coord(MARSEILLE[1] + float(g.normal(0, 0.01)))
                lon = _fmt_coord(MARSEILLE[0] + float(g.normal(0, 0.01)))
            else:
                truth_coord[t] = ids[ev.pos]
                if is_outside[i]:
                    outside.append(t)
        delay_median, sigma = DELAYS[ev.category]
        if ev.category == "ascenseur" and g.random() < 0.15:
            delay_days = float(g.uniform(10, 25))
        else:
            delay_days = float(delay_median * np.exp(sigma * g.normal()))
        closed = created + pd.Timedelta(minutes=int(delay_days * 1440))
        closed = closed.normalize() + pd.Timedelta(minutes=int(g.integers(8 * 60, 18 * 60)))
        if closed <= created:
            closed = created + pd.Timedelta(minutes=int(g.integers(30, 240)))
        if closed < cal.end:
            status, closed_text = "Clôturé", _fmt_date(closed)
        else:
            recent = (cal.end - created) < pd.Timedelta(days=3)
            status = "Ouvert" if recent and g.random() < 0.6 else "En cours"
            closed_text = ""
        if created.day_of_week >= 5:
            channel = _pick(g, ("Application", "Courriel"))
        else:
            channel = CHANNELS[int(g.choice(4, p=CHANNEL_P))]
        phone = _phone(g) if g.random() < 0.9 else ""
        flat = (
            _pick(g, (f"Apt {int(g.integers(1, 160))}", f"Logt {int(g.integers(1, 160))}"))
            if g.random() < 0.7
            else ""
        )
        # The name, phone and dwelling of the ticket's household, typed as agents do (the
        # draws above keep the main stream as it was).
        h = households.draw(ev.pos, other_than=household_of.get(dup_of[i]) if i in dup_of else None)
        household_of[i] = h
        truth_households[t] = h.id
        name = households.name(h)
        phone = households.phone(h) if phone else ""
        flat = households.dwelling(h) if flat else ""
        building_text = code if code and g.random() < 0.55 else ""
        date_text = "" if bad.get(i) == "missing_date" else _fmt_date(created)
        if i in bad:
            bad_rows[t] = bad[i]
        if i in dup_of:
            bad_rows[t] = "likely_duplicate"
            duplicate_of[t] = ticket[dup_of[i]]
        record = [
            t,
            date_text,
            _label(g, ev.category),
            _pick(g, SUBCATEGORIES[ev.category]),
            description,
            address,
            building_text,
            lat,
            lon,
            status,
            closed_text,
            channel,
            name,
            phone,
            flat,
        ]
        by_row[i] = record
    records: list[list[str]] = []
    last_repeated = repeated[-1] if repeated else None
    for i in rows:
        records.append(by_row[i])
        if i == last_repeated:
            # The same export sent twice: the window's rows again, whole, in order.
            for r in repeated:
                records.append(list(by_row[r]))
                bad_rows[ticket[r]] = "exact_duplicate"
    for record in records:
        has_address, has_coords = bool(record[5]), bool(record[7])
        key = (
            "both"
            if has_address and has_coords
            else "address_only"
            if has_address
            else ("coordinates_only")
        )
        mix[key] += 1
    reports = pd.DataFrame(records, columns=REPORT_COLUMNS, dtype=str)
    unknown_rows = int(reports["Catégorie"].isin(UNKNOWN_LABELS).sum())

    walk = _walk(profile, ids, geo, cal, rng, plan, pattern)
    kobo, kobo_truth = _kobo(profile, ids, geo, codes, cal, rng, plan, pattern)

    xy_all = profile[["x_m", "y_m"]].to_numpy()

    def centre_lonlat(pos: int) -> list[float]:
        lon_c, lat_c = geo.wgs(float(xy_all[pos][0]), float(xy_all[pos][1]))
        return [lon_c, lat_c]

    truth: dict[str, Any] = {
        "seed": seed,
        "pattern": pattern,
        "simulated": True,
        "study_area": [round(float(v), 6) for v in area],
        "period": {
            "start": cal.t0.date().isoformat(),
            "end": cal.end.date().isoformat(),
            "months": months,
        },
        "row_counts": {
            FILES["reports"]: len(reports),
            FILES["walk"]: len(walk),
            FILES["kobo"]: len(kobo),
        },
        "hotspots": [
            {
                "centre": centre_lonlat(c["centre"]),
                "centre_building_id": ids[c["centre"]],
                "radius_m": round(float(c["radius_m"]), 1),
                "building_ids": sorted(ids[p] for p in c["members"]),
            }
            for c in plan["clusters"]
        ],
        "hotspot_buildings": sorted(ids[p] for c in plan["clusters"] for p in c["members"]),
        "chronic": [
            {
                "building_id": ids[c["pos"]],
                "category": c["category"],
                "dates": sorted(
                    cal.time(ev.minute).isoformat()
                    for ev in (events[i] for i in rows)
                    if ev.role == "chronic" and ev.pos == c["pos"] and ev.category == c["category"]
                ),
            }
            for c in plan["chronic"]
        ],
        "rising": [
            {
                "building_id": ids[r["pos"]],
                "pattern": r["pattern"],
                "first_month": r["first_month"],
                "group_building_ids": sorted(ids[g] for g in r["group"]),
            }
            for r in plan["rising"]
        ],
        "seasonal": (
            {
                "category": "chauffage",
                "peak_months": [11, 12, 1, 2],
                "monthly_factor": list(HEATING_SEASON),
            }
            if pattern
            else None
        ),
        "lift_towers": sorted(ids[p] for p in plan["lift_towers"]),
        "tall_buildings": sorted(ids[p] for p in np.flatnonzero(profile["is_tall"].to_numpy())),
        "address_buildings": truth_addr,
        "coordinate_buildings": truth_coord,
        "coordinates_outside": sorted(outside),
        "location_mix": mix,
        "bad_rows": bad_rows,
        "duplicate_of": duplicate_of,
        "unknown_label_rows": unknown_rows,
        "unknown_labels": sorted(UNKNOWN_LABELS),
        "pii_in_description": pii,
        "households": truth_households,
        "serial_households": sorted(h.id for h in households.serial.values()),
        "building_codes": {code: ids[pos] for pos, code in sorted(codes.items())},
        "kobo_buildings": kobo_truth,
        "walk_dates": sorted({d[:10] for d in walk["date"]}),
    }
    numbers = action_ids(planned)
    truth["actions"] = action_truth(
        planned, numbers, ids, profile, cal, plan["n_background"], pattern=pattern
    )
    # The rows of the export that the register's planted problems added (its exact
    # duplicates' copies included): the export without them has the volume of N.
    copies = repeated if last_repeated is not None else []
    truth["actions"]["planted_rows"] = sum(
        1 for i in [*rows, *copies] if events[i].role == "action"
    )
    register = register_rows(planned, ids, geo, numbers)
    return Simulation(reports=reports, walk_geojson=walk, kobo=kobo, truth=truth, actions=register)
