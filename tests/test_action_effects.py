"""The effect of an action (pipelines.actions.effect), on hand-made tables with a known
answer, its intervals against independent computations, and the [params.actions]
settings."""

from __future__ import annotations

import functools
import html
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipelines.actions.effect import (
    COLUMNS,
    DAYS_PER_MONTH,
    METHOD_NOTE_FR,
    VERDICTS,
    action_effects,
    did_ratio_ci,
    rate_ratio_ci,
)
from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.fr import fr_number
from tests.conftest import DemoRun

START, MIDDLE, END = (
    pd.Timestamp("2024-01-01"),
    pd.Timestamp("2024-07-01"),
    pd.Timestamp("2025-01-01"),
)
REST = [f"way/{i}" for i in range(100, 128)]  # 28 other buildings


def spread(building: str, n: int, start: pd.Timestamp, stop: pd.Timestamp, **extra: str):
    """``n`` reports on ``building`` evenly spread over [start, stop)."""
    step = (stop - start) / max(n, 1)
    return [
        {"building_id": building, "reported_at": start + step * (k + 0.5), **extra}
        for k in range(n)
    ]


def table(
    target_before: int,
    target_after: int,
    rest_before: int = 10,
    rest_after: int = 10,
    *,
    category: str = "encombrants",
) -> pd.DataFrame:
    """Reports on ``way/1`` (the target) and on each of :data:`REST`, before and after
    1 July 2024, plus noise in another category on the target."""
    rows = [
        *spread("way/1", target_before, START, MIDDLE, category=category),
        *spread("way/1", target_after, MIDDLE, END, category=category),
        *spread("way/1", 30, START, END, category="ascenseur"),
    ]
    for b in REST:
        rows += spread(b, rest_before, START, MIDDLE, category=category)
        rows += spread(b, rest_after, MIDDLE, END, category=category)
    out = pd.DataFrame(rows)
    out["report_id"] = [f"R{i}" for i in range(len(out))]
    out["household_key"] = [f"h{i % 5}" for i in range(len(out))]
    return out


BUILDINGS = pd.DataFrame({"building_id": ["way/1", *REST], "dwellings": [40.0] * 29})


def action(
    completed: object = MIDDLE, targets: tuple[str, ...] = ("way/1",), cats=("encombrants",)
) -> dict[str, object]:
    return {
        "action_id": "A-1",
        "building_ids": targets,
        "completed_date": completed,
        "categories": cats,
    }


def effects(reports: pd.DataFrame, *actions: dict[str, object], **kwargs) -> pd.DataFrame:
    options = {"window_months": 6, "period_end": pd.Timestamp("2024-12-31"), "min_reports": 10}
    return action_effects(
        pd.DataFrame(list(actions)), reports, kwargs.pop("buildings", BUILDINGS), **options | kwargs
    )


def days(a: pd.Timestamp, b: pd.Timestamp) -> float:
    return (b - a).days / DAYS_PER_MONTH


def clopper_pearson(x: int, n: int) -> tuple[float, float]:
    """The exact binomial interval by its beta-quantile formula (not scipy's binomtest)."""
    low = 0.0 if x == 0 else stats.beta.ppf(0.025, x, n - x + 1)
    high = 1.0 if x == n else stats.beta.ppf(0.975, x + 1, n - x)
    return float(low), float(high)


# ------------------------------------------------------------------------- verdicts
def test_a_clear_drop_is_a_baisse_with_the_exact_interval() -> None:
    reports = table(40, 8)
    row = effects(reports, action()).iloc[0]
    assert list(row.index) == list(COLUMNS)
    assert (row["n_before"], row["n_after"]) == (40, 8)
    assert (row["rest_n_before"], row["rest_n_after"]) == (280, 280)
    assert row["before_start"] == START
    assert row["after_end"] == pd.Timestamp("2024-12-31")
    t_b, t_a = days(START, MIDDLE), days(MIDDLE, END)  # 182 and 184 days
    assert row["rate_ratio"] == pytest.approx((8 / t_a) / (40 / t_b))
    # The interval, independently: Clopper-Pearson by beta quantiles, mapped to the ratio.
    p_low, p_high = clopper_pearson(8, 48)
    assert row["rr_ci_low"] == pytest.approx(p_low / (1 - p_low) * t_b / t_a, rel=1e-6)
    assert row["rr_ci_high"] == pytest.approx(p_high / (1 - p_high) * t_b / t_a, rel=1e-6)
    assert row["did_ratio"] == pytest.approx((8 / 40) / (280 / 280))
    assert row["did_ci_high"] < 1
    assert row["verdict"] == "baisse"
    drop = fr_number(100 * (1 - row["rate_ratio"]))
    low, high = fr_number(100 * (1 - row["rr_ci_high"])), fr_number(100 * (1 - row["rr_ci_low"]))
    assert row["effect_fr"].startswith(f"baisse de {drop} % [IC 95 % : {low} %–{high} %]")
    assert "contre une baisse de 1 % sur le reste du site" in row["effect_fr"]  # 182 vs 184 days
    assert "soit une baisse nette de" in row["effect_fr"]
    assert "01/07/2024" in row["effect_fr"]


def test_a_clear_rise_is_a_hausse() -> None:
    row = effects(table(8, 40), action()).iloc[0]
    assert row["did_ci_low"] > 1
    assert row["verdict"] == "hausse"
    assert row["effect_fr"].startswith("hausse de ")


def test_no_drop_shows_no_effect() -> None:
    row = effects(table(20, 20), action()).iloc[0]
    assert row["did_ci_low"] < 1 < row["did_ci_high"]
    assert row["verdict"] == "pas d'effet démontré"
    assert row["effect_fr"].startswith("pas d'effet démontré : évolution de ")


def test_a_site_wide_drop_that_also_hits_the_target_is_not_an_effect() -> None:
    # The target halves (60 → 30), but so does every other building (20 → 10 each).
    row = effects(table(60, 30, 20, 10), action()).iloc[0]
    assert row["rr_ci_high"] < 1  # the target alone would look like a drop ...
    assert row["rest_rate_ratio"] == pytest.approx(row["rate_ratio"])
    assert row["did_ratio"] == pytest.approx(1.0)
    assert row["did_ci_low"] < 1 < row["did_ci_high"]  # ... against the site, it is none
    assert row["verdict"] == "pas d'effet démontré"
    assert row["effect_fr"].startswith("pas d'effet démontré : baisse de 5")
    assert "contre une baisse de 5" in row["effect_fr"]


def test_the_rest_leaves_out_other_actions_carried_out_during_the_windows() -> None:
    # The target is flat (20 → 20); an action on 10 other buildings halved their reports
    # (40 → 20 each) in the same months: that is its effect, not the site's trend.
    reports = table(20, 20)
    treated = REST[:10]
    others = reports[~reports["building_id"].isin(treated)]
    extra = pd.DataFrame(
        [
            row
            for b in treated
            for row in (
                spread(b, 40, START, MIDDLE, category="encombrants")
                + spread(b, 20, MIDDLE, END, category="encombrants")
            )
        ]
    )
    reports = pd.concat([others, extra], ignore_index=True)
    other = {**action("2024-09-01", targets=tuple(treated)), "action_id": "A-2"}
    rows = effects(reports, action(), other).set_index("action_id")
    row = rows.loc["A-1"]
    assert (row["rest_n_before"], row["rest_n_after"]) == (180, 180)  # the 18 untreated
    assert row["did_ratio"] == pytest.approx(1.0, abs=0.02)
    assert row["verdict"] == "pas d'effet démontré"
    # Without the other action in the register, its buildings are in the rest.
    alone = effects(reports, action()).iloc[0]
    assert (alone["rest_n_before"], alone["rest_n_after"]) == (580, 380)
    # An action carried out before the windows began is no reason to leave buildings out.
    early = {**other, "completed_date": "2023-06-01"}
    assert effects(reports, action(), early).iloc[0]["rest_n_before"] == 580


def test_few_reports_never_give_a_verdict() -> None:
    # 6 → 0 looks like a drop, but 6 reports are fewer than min_reports.
    rows = effects(table(6, 0), action(), action(), min_reports=10)
    assert (rows["verdict"] == "trop peu de signalements").all()
    sentence = rows["effect_fr"].iloc[0]
    assert sentence.startswith("trop peu de signalements pour conclure (moins de 10 ")
    for word in ("baisse", "hausse", "effet"):
        assert word not in sentence
    assert rows["n_before"].iloc[0] == 6  # the counts are kept, for the analysts
    # At the threshold, a verdict is given.
    assert effects(table(10, 0), action(), min_reports=10)["verdict"].iloc[0] == "baisse"


@pytest.mark.parametrize(
    ("completed", "period_end", "reason"),
    [
        (None, "2024-12-31", "action non réalisée"),
        (pd.NaT, "2024-12-31", "action non réalisée"),
        ("2024-07-02", "2024-12-31", "dépassent les données"),  # after window ends 1 Jan
        ("2024-07-01", "2024-12-30", "dépassent les données"),
        ("2024-06-30", "2024-12-31", "commencent avant les données"),  # starts 30 Dec 2023
    ],
)
def test_not_completed_or_windows_outside_the_data_are_not_measurable(
    completed: object, period_end: str, reason: str
) -> None:
    row = effects(table(40, 8), action(completed), period_end=pd.Timestamp(period_end)).iloc[0]
    assert row["verdict"] == "non mesurable"
    assert reason in row["effect_fr"]
    assert pd.isna(row["n_before"])
    assert pd.isna(row["did_ci_low"])


def test_the_windows_fill_the_data_exactly() -> None:
    # Completed on 1 July 2024, data from January to 31 December 2024: both windows fit.
    row = effects(table(40, 8), action("2024-07-01")).iloc[0]
    assert row["verdict"] == "baisse"
    # A completion given as a date, a time of day, or a time zone: the same day.
    for value in (
        MIDDLE.date(),
        "2024-07-01 15:30",
        pd.Timestamp("2024-07-01 09:00", tz="Europe/Paris"),
    ):
        again = effects(table(40, 8), action(value)).iloc[0]
        assert again["before_start"] == START
        assert again["n_after"] == 8


def test_an_action_without_buildings_is_not_measurable() -> None:
    row = effects(table(40, 8), action(targets=())).iloc[0]
    assert row["verdict"] == "non mesurable"
    assert "aucun bâtiment" in row["effect_fr"]


def test_rates_per_100_dwellings_or_per_month() -> None:
    reports = table(40, 8)
    t_b = days(START, MIDDLE)
    row = effects(reports, action()).iloc[0]
    assert row["rate_unit"] == "pour 100 logements"
    # per 100 dwellings over 6 months (of 30.44 days)
    assert row["rate_before"] == pytest.approx(40 / t_b * 6 * 100 / 40)
    # One target building with no known dwellings: per month, for the whole target.
    unknown = pd.concat(
        [BUILDINGS, pd.DataFrame({"building_id": ["way/2"], "dwellings": [np.nan]})]
    )
    row = effects(reports, action(targets=("way/1", "way/2")), buildings=unknown).iloc[0]
    assert row["rate_unit"] == "par mois"
    assert row["rate_before"] == pytest.approx(40 / t_b)
    assert row["rate_after"] == pytest.approx(8 / days(MIDDLE, END))


def test_only_counted_reports_of_the_categories_on_the_target() -> None:
    reports = table(40, 8)
    noise = pd.DataFrame(
        [
            # an observation, a likely duplicate, a report with no building: not counted
            {"building_id": "way/1", "reported_at": MIDDLE + pd.Timedelta(days=3),
             "category": "encombrants", "source_kind": "observations"},
            {"building_id": "way/1", "reported_at": MIDDLE + pd.Timedelta(days=4),
             "category": "encombrants", "duplicate_of": "R0"},
            {"building_id": None, "reported_at": MIDDLE + pd.Timedelta(days=5),
             "category": "encombrants"},
        ]
    )  # fmt: skip
    reports = pd.concat([reports.assign(source_kind="reports"), noise], ignore_index=True)
    before = reports.copy()
    row = effects(reports, action()).iloc[0]
    pd.testing.assert_frame_equal(reports, before)  # inputs untouched
    assert (row["n_before"], row["n_after"]) == (40, 8)
    assert (row["n_households_before"], row["n_households_after"]) == (5, 5)
    # No category named: every category (the 30 lift reports on the target count too).
    row = effects(reports, action(cats=())).iloc[0]
    assert row["n_before"] + row["n_after"] == 48 + 30


def test_one_row_per_action_in_input_order() -> None:
    acts = [
        {**action(), "action_id": "A-3"},
        {**action(None), "action_id": "A-1"},
        {**action(targets=(REST[0],)), "action_id": "A-2"},
    ]
    out = effects(table(40, 8), *acts)
    assert list(out["action_id"]) == ["A-3", "A-1", "A-2"]
    assert set(out["verdict"]) <= set(VERDICTS)
    assert str(out["n_before"].dtype) == "Int64"


def test_changes_that_round_to_nothing_have_no_sign() -> None:
    # 20 → 20 on the target, 10 → 10 elsewhere: « 0 % », never « -0 % » or « +0 % ».
    row = effects(table(20, 20), action(), period_end=pd.Timestamp("2024-12-31")).iloc[0]
    sentence = row["effect_fr"]
    assert "-0 %" not in sentence
    assert "+0 %" not in sentence


def test_method_note_in_french_takes_the_settings() -> None:
    note = METHOD_NOTE_FR.format(window=4, min_reports=12)
    assert "4 mois avant et 4 mois après" in note
    assert "12 signalements" in note
    assert "{" not in note


def test_the_published_method_note_and_the_pack_say_how_an_effect_is_estimated(
    demo_run: DemoRun,
) -> None:
    """The method note the map links and the pack prints has the effect's method, in
    French, with the site's windows; a site without a register does not."""
    settings = load_config(demo_run.config).site("bondy").settings.actions
    text = METHOD_NOTE_FR.format(
        window=settings.effect_window_months, min_reports=settings.effect_min_reports
    )
    published = demo_run.site("bondy") / "published"
    note = (published / "method_note.html").read_text(encoding="utf-8")
    assert "<h2>Effet des actions</h2>" in note
    assert text in html.unescape(note)
    assert text in (published / "method_note.md").read_text(encoding="utf-8")
    pack = (demo_run.maps / "bondy_comite.html").read_text(encoding="utf-8")
    method = pack[pack.index('<section id="methode"') :]
    assert "Effet des actions" in method
    assert text in html.unescape(method)
    other = demo_run.site("paris10") / "published" / "method_note.html"
    assert "Effet des actions" not in other.read_text(encoding="utf-8")


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="window_months"):
        effects(table(1, 1), action(), window_months=0)
    with pytest.raises(ValueError, match="min_reports"):
        effects(table(1, 1), action(), min_reports=0)


# ------------------------------------------------------------------------ intervals
def test_rate_ratio_interval_matches_r_binom_test() -> None:
    # R: binom.test(682, 925) gives the 95 % interval 0.7076683–0.7654066 (its manual's
    # example); over equal exposures the ratio's interval is p / (1 − p) of it.
    low, high = rate_ratio_ci(682, 243)
    assert low == pytest.approx(0.7076683 / (1 - 0.7076683), rel=1e-6)
    assert high == pytest.approx(0.7654066 / (1 - 0.7654066), rel=1e-6)
    assert rate_ratio_ci(0, 12)[0] == 0.0
    assert math.isinf(rate_ratio_ci(12, 0)[1])
    assert all(math.isnan(v) for v in rate_ratio_ci(0, 0))


@pytest.mark.parametrize("counts", [(8, 40, 280, 280), (0, 15, 90, 110), (30, 60, 150, 300)])
def test_did_interval_is_the_exact_conditional_one(counts: tuple[int, int, int, int]) -> None:
    """At each bound the tail of Fisher's noncentral hypergeometric law is 2.5 %, computed
    here with scipy.stats.nchypergeom_fisher (the interval's definition)."""
    a, b, c, d = counts
    low, high = did_ratio_ci(a, b, c, d)
    total, row1, col1 = a + b + c + d, a + b, a + c

    def law(odds: float):
        return stats.nchypergeom_fisher(total, col1, row1, odds)

    if a > 0:
        assert law(low).sf(a - 1) == pytest.approx(0.025, abs=1e-4)
    else:
        assert low == 0.0
    assert law(high).cdf(a) == pytest.approx(0.025, abs=1e-4)


def test_rate_ratio_interval_covers_at_least_95_percent() -> None:
    """Seeded simulation (fixed draws: the same result on every run) of two Poisson
    counts with known rates: the exact interval covers the true ratio ≥ 95 % of the
    time (it is conservative); 4,000 draws per case put the estimate within about
    ±0.7 % of the true coverage, and the margin below is three times that."""
    rng = np.random.default_rng(20250117)
    ci = functools.cache(rate_ratio_ci)  # pairs of counts repeat: compute each once
    for mean_before, ratio in ((8.0, 1.0), (20.0, 0.4), (40.0, 0.15), (5.0, 2.0)):
        before = rng.poisson(mean_before, 4000)
        after = rng.poisson(mean_before * ratio, 4000)
        bounds = [ci(int(x), int(y)) for x, y in zip(after, before, strict=True)]
        cover = [lo <= ratio <= hi for lo, hi in bounds if not math.isnan(lo)]
        assert np.mean(cover) >= 0.95 - 0.02, (mean_before, ratio)


def test_did_interval_covers_at_least_95_percent_given_the_margins() -> None:
    """The exact coverage (no simulation) of the DiD interval for fixed margins: the sum,
    over every possible target count, of its probability when the interval holds the
    true ratio. An exact conditional interval covers ≥ 95 % for every margin."""
    for (row1, row2, col1), odds in (
        ((20, 200, 110), 0.3),
        ((20, 200, 110), 1.0),
        ((12, 80, 40), 2.5),
    ):
        total = row1 + row2
        law = stats.nchypergeom_fisher(total, col1, row1, odds)
        support = range(max(0, row1 + col1 - total), min(row1, col1) + 1)
        covered = 0.0
        for a in support:
            b, c = row1 - a, col1 - a
            low, high = did_ratio_ci(a, b, c, total - a - b - c)
            if low <= odds <= high:
                covered += law.pmf(a)
        assert covered >= 0.95 - 1e-9, (row1, row2, col1, odds)


# ------------------------------------------------------------------------- settings
def _config_with(tmp_path: Path, lines: str) -> Path:
    text = (Path("config") / "demo.toml").read_text(encoding="utf-8")
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        text.replace("[params.geocode]", f"[params.actions]\n{lines}\n\n[params.geocode]"),
        encoding="utf-8",
    )
    return cfg


def test_action_settings_defaults_and_values(tmp_path: Path) -> None:
    settings = load_config(Path("config") / "demo.toml").site("bondy").settings.actions
    assert (settings.effect_window_months, settings.effect_min_reports) == (6, 10)
    cfg = _config_with(tmp_path, "effect_window_months = 3\neffect_min_reports = 20")
    settings = load_config(cfg).site("paris10").settings.actions
    assert (settings.effect_window_months, settings.effect_min_reports) == (3, 20)


@pytest.mark.parametrize(
    ("lines", "key"),
    [
        ("effect_window_months = 0", "params.actions.effect_window_months"),
        ("effect_window_months = 2.5", "params.actions.effect_window_months"),
        ("effect_min_reports = 0", "params.actions.effect_min_reports"),
        ("fenetre = 6", "params.actions.fenetre"),
    ],
)
def test_bad_action_settings_name_the_key(tmp_path: Path, lines: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_config_with(tmp_path, lines))
    assert err.value.key == key
    assert "attendu" in str(err.value) or "clé inconnue" in str(err.value)
