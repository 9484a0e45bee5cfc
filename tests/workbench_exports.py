"""Hand-made exports for the ``vigie init`` tests: the same reports written the ways other
tools write them (English or odd French headers, comma or semicolon, month-first or
day-first dates, UTF-8 or Latin-1, degrees, Lambert-93 with decimal commas, a workbook
with addresses only), at real Bondy addresses (the BAN extract in data/raw/) inside the
OSM extract's bounds, so that every row has a known fate.

Each builder returns the file and what ingestion must make of it (:class:`Expected`).
Nothing random: the rows are the first BAN addresses inside the bounds, in file order.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tests.conftest import RAW

OSM = RAW / "bondy" / "bondy_nord.osm"
BAN = RAW / "bondy" / "ban_adresses_bondy.csv"
#: Bounds of the Bondy Nord extract (west, south, east, north), shrunk by a margin.
BOUNDS = (2.4785, 48.9072, 2.4905, 48.9122)

#: (label as the export writes it, the code it must reach, how it is found).
LABELS = (
    ("Ascenseur en panne", "ascenseur", "exact"),
    ("Ascenceur bloqué", "ascenseur", "approché"),
    ("Fuite d'eau", "eau_fuite", "approché"),
    ("Propreté", "proprete", "exact"),
    ("Tapage nocturne", "autre", "non reconnu"),
    ("Cafards dans la cage d'escalier", "nuisibles", "approché"),
)


@dataclass(frozen=True)
class Expected:
    """What ingestion must make of a hand-made export."""

    path: Path
    rows_in: int
    accepted: int
    duplicates: int
    rejected: dict[str, int]
    #: (line in the file, the date and time it must read as).
    a_date: tuple[int, dt.datetime]
    #: BAN (lon, lat) of the accepted rows, by report id (when the export has points).
    points: dict[str, tuple[float, float]]


def addresses(n: int) -> pd.DataFrame:
    """The first ``n`` BAN addresses inside :data:`BOUNDS`, with a text address."""
    ban = pd.read_csv(BAN, dtype={"numero": "Int64", "rep": "str"}, keep_default_na=False)
    ban = ban[
        ban["lon"].between(BOUNDS[0], BOUNDS[2]) & ban["lat"].between(BOUNDS[1], BOUNDS[3])
    ].head(n)
    rep = ban["rep"].where(ban["rep"] != "", "")
    ban = ban.assign(
        text=ban["numero"].astype(str)
        + (" " + rep).where(rep != "", "")
        + " "
        + ban["nom_voie"]
        + " 93140 Bondy"
    )
    return ban.reset_index(drop=True)


def _when(k: int) -> dt.datetime:
    """The k-th report's time: a day of 2024 whose day of month exceeds 12 every
    third report (so that the order of day and month shows), afternoon times."""
    day = 13 + k % 15 if k % 3 == 0 else 1 + k % 12
    return dt.datetime(2024, 1 + k % 11, day, 9 + k % 9, (7 * k) % 60)


def english_us_csv(dst: Path, n: int = 40) -> Expected:
    """UTF-8, comma, English headers, US dates (month first, 12-hour clock), degrees;
    plus one row without a date and one exact duplicate."""
    ban = addresses(n)
    path = dst / "service_requests.csv"
    header = ["Ticket ID", "Created", "Category", "Details", "Street Address", "Latitude",
              "Longitude", "Status", "Closed", "Resident name", "Phone"]  # fmt: skip
    rows = []
    points = {}
    for k, b in ban.iterrows():
        when = _when(int(k))
        closed = when + dt.timedelta(days=3)
        rid = f"SR-{1000 + int(k)}"
        rows.append([
            rid, when.strftime("%m/%d/%Y %I:%M %p"), LABELS[int(k) % len(LABELS)][0],
            "Reported by phone", b["text"], f"{b['lat']:.6f}", f"{b['lon']:.6f}", "Closed",
            closed.strftime("%m/%d/%Y %I:%M %p"), f"Resident {k}", f"06 12 34 {int(k):02d} 00",
        ])  # fmt: skip
        points[rid] = (float(b["lon"]), float(b["lat"]))
    no_date = [*rows[0]]
    no_date[0], no_date[1] = "SR-9999", ""
    rows.append(no_date)
    rows.append([*rows[5]])  # the same row twice: a duplicate
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    first = _when(0)
    return Expected(path, n + 2, n, 1, {"missing_date": 1}, (2, first.replace(second=0)), points)


def odd_french_latin1(dst: Path, n: int = 30) -> Expected:
    """Latin-1, semicolon, unusual French headers, day-first dates, Lambert-93 X/Y
    written with decimal commas; plus a row with an unreadable date."""
    ban = addresses(n)
    path = dst / "extraction_réclamations.csv"
    header = ["Réf.", "Signalé le", "Thème du signalement", "Précisions", "Lieu", "Coord X",
              "Coord Y", "État", "Clos le", "Locataire", "Tél. portable"]  # fmt: skip
    lines = [";".join(header)]
    points = {}
    for k, b in ban.iterrows():
        when = _when(int(k))
        rid = f"R{2024_000 + int(k)}"
        x = f"{b['x']:.2f}".replace(".", ",")
        y = f"{b['y']:.2f}".replace(".", ",")
        lines.append(";".join([
            rid, when.strftime("%d/%m/%Y %H:%M"), LABELS[int(k) % len(LABELS)][0],
            "Signalé à l'accueil", b["text"], x, y, "Clôturé",
            (when + dt.timedelta(days=2)).strftime("%d/%m/%Y"), f"Mme Dupré {k}", "0612345678",
        ]))  # fmt: skip
        points[rid] = (float(b["lon"]), float(b["lat"]))
    lines.append(";".join(["R9999", "31/02/2024 10:00", "Propreté", "", ban["text"][0],
                           "", "", "Ouvert", "", "", ""]))  # fmt: skip
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))
    first = _when(0)
    return Expected(path, n + 1, n, 0, {"unparseable_date": 1}, (2, first), points)


def workbook_addresses(dst: Path, n: int = 25) -> Expected:
    """A workbook (XLSX): real Excel dates, addresses only (no coordinates)."""
    ban = addresses(n)
    path = dst / "suivi_GUSP.xlsx"
    frame = pd.DataFrame(
        {
            "Identifiant": [f"G-{k:03d}" for k in range(n)],
            "Date": [_when(k) for k in range(n)],
            "Nature": [LABELS[k % len(LABELS)][0] for k in range(n)],
            "Adresse complète": ban["text"],
            "Statut": ["En cours"] * n,
        }
    )
    frame.to_excel(path, index=False)
    return Expected(path, n, n, 0, {}, (2, _when(0)), {})
