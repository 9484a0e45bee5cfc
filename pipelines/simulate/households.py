"""Who reports: the simulated households behind Bondy's tickets.

A landlord's ticket carries the tenant's name, phone and dwelling reference, and tenants
report again: a few households file most tickets of their building (the "serial
reporters" that disclosure control must not let dominate a published cell), many file
two or three, most one. Each ticket is drawn, in time order, from its building's
households: a new household, or (with probability :data:`REPEAT`) one that already
reported, chosen in proportion to its number of tickets so far (a preferential draw,
which makes a few heavy reporters). In :data:`N_SERIAL` of the buildings with the most
tickets, one household files about :data:`SERIAL_SHARE` of them. A likely duplicate
(a neighbour reporting the same problem) always comes from another household.

Each household has one dwelling reference (the landlord's: building code and flat
number, « NC-B-045 »), one phone number (unique, in the fictional ranges) and one name;
ticketing agents type them in several ways ("Logt NC-B 45", "+33 1 99 00…", "MARTIN
Sophie", "Mme Martin"), as ingestion must fold them. The draws use their own generator
(seeded from the simulation's seed), so the rest of the simulation is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipelines.simulate.rows import FICTION_PHONE_PREFIXES, FIRST_NAMES_F, FIRST_NAMES_M, SURNAMES

#: Probability that a ticket comes from a household that already reported in its building.
REPEAT = 0.35
#: Buildings with a serial reporter, among the ten with the most tickets.
N_SERIAL = 3
#: Share of its building's tickets a serial reporter files (a quarter: about a hundred
#: tickets over two years in the busiest towers).
SERIAL_SHARE = 0.25
#: Stream of the household draws (mixed with the simulation's seed).
STREAM = 16


@dataclass
class Household:
    """One simulated household."""

    id: str
    dwelling: str  # the landlord's reference, canonical form
    phone: str  # national form, digits in pairs
    first: str
    last: str
    female: bool
    tickets: int = 0


@dataclass
class Households:
    """The households of a simulation, and which one filed each ticket."""

    rng: np.random.Generator
    codes: dict[int, str]
    by_building: dict[int, list[Household]] = field(default_factory=dict)
    serial: dict[int, Household] = field(default_factory=dict)
    phones: set[str] = field(default_factory=set)
    flats: dict[int, set[int]] = field(default_factory=dict)
    count: int = 0

    @classmethod
    def start(
        cls, seed: int, codes: dict[int, str], tickets_per_building: dict[int, int]
    ) -> Households:
        """The households' generator, with the serial reporters' buildings chosen."""
        rng = np.random.default_rng([seed, STREAM])
        out = cls(rng, codes)
        busiest = sorted(tickets_per_building, key=lambda p: (-tickets_per_building[p], p))[:10]
        if busiest:
            chosen = rng.choice(len(busiest), size=min(N_SERIAL, len(busiest)), replace=False)
            for k in sorted(int(c) for c in chosen):
                pos = busiest[k]
                out.serial[pos] = out._new(pos)
        return out

    def _new(self, pos: int) -> Household:
        rng = self.rng
        used = self.flats.setdefault(pos, set())
        # Flat numbers of the building, distinct; the range grows with the households
        # (a free number is always at least half as likely as a taken one).
        top = max(200, 2 * len(used) + 1)
        flat = int(rng.integers(1, top))
        while flat in used:
            flat = int(rng.integers(1, top))
        used.add(flat)
        code = self.codes.get(pos) or f"L{pos}"
        while True:
            prefix = FICTION_PHONE_PREFIXES[int(rng.integers(len(FICTION_PHONE_PREFIXES)))]
            phone = f"{prefix} {int(rng.integers(100)):02d} {int(rng.integers(100)):02d}"
            if phone not in self.phones:
                break
        self.phones.add(phone)
        female = bool(rng.random() < 0.55)
        names = FIRST_NAMES_F if female else FIRST_NAMES_M
        first = names[int(rng.integers(len(names)))]
        last = SURNAMES[int(rng.integers(len(SURNAMES)))]
        self.count += 1
        h = Household(f"H{self.count:05d}", f"{code}-{flat:03d}", phone, first, last, female)
        self.by_building.setdefault(pos, []).append(h)
        return h

    def draw(self, pos: int, *, other_than: Household | None = None) -> Household:
        """The household that files the next ticket of building ``pos``."""
        rng = self.rng
        serial = self.serial.get(pos)
        if serial is not None and other_than is not serial and rng.random() < SERIAL_SHARE:
            h = serial
        else:
            known = [h for h in self.by_building.get(pos, []) if h is not other_than and h.tickets]
            if known and rng.random() < REPEAT:
                weights = np.array([h.tickets for h in known], dtype=float)
                h = known[int(rng.choice(len(known), p=weights / weights.sum()))]
            else:
                h = self._new(pos)
        h.tickets += 1
        return h

    # ------------------------------------------------------------------ as typed
    def name(self, h: Household) -> str:
        """The household's name as an agent types it."""
        civ = "Mme" if h.female else "M."
        style = int(self.rng.integers(4))
        return (
            f"{civ} {h.first} {h.last}",
            f"{h.last.upper()} {h.first}",
            f"{h.first} {h.last}",
            f"{civ} {h.first} {h.last.upper()}",
        )[style]

    def phone(self, h: Household) -> str:
        """The household's phone number as an agent types it."""
        style = int(self.rng.integers(4))
        if style == 1:
            return h.phone.replace(" ", "")
        if style == 2:
            return "+33 " + h.phone[1:]
        if style == 3:
            return h.phone.replace(" ", ".")
        return h.phone

    def dwelling(self, h: Household) -> str:
        """The household's dwelling reference as an agent types it."""
        code, flat = h.dwelling.rsplit("-", 1)
        style = int(self.rng.integers(4))
        return (
            h.dwelling,
            f"Logt {h.dwelling}",
            f"{code} {int(flat)}",
            f"Apt {code.lower()}-{flat}",
        )[style]
