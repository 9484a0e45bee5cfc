"""Tests for pipelines.maps.plots and pipelines.maps.charts: hand-made tables with known
answers, then the real Paris 10e DansMaRue reports through the trends and publish stages,
drawn from the published tables (PNG and CSV side by side, French labels)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from PIL import Image

from pipelines.config import load_config
from pipelines.io import read_csv
from pipelines.maps import plots as charts
from pipelines.maps import trendchart
from pipelines.maps.charts import run_charts
from pipelines.publish.charts import category_series_of
from pipelines.published import read_published
from pipelines.reports import counted, naive_dates
from pipelines.taxonomy import BY_CODE, CODES


def _months(n: int, start: str = "2024-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="MS")


def _texts(chart: charts.Chart) -> list[str]:
    fig = chart.figure
    found = [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))]
    return [t for t in found if t]


def test_period_labels_in_french() -> None:
    labels = charts.period_labels(_months(14, "2023-11-01"), "M")
    assert labels[:4] == ["nov.\n2023", "déc.", "janv.\n2024", "févr."]
    assert labels[9] == "août"
    quarters = charts.period_labels(pd.date_range("2024-01-01", periods=2, freq="QS"), "Q")
    assert quarters == ["T1\n2024", "T2\n2024"]
    years = charts.period_labels(pd.date_range("2023-01-01", periods=2, freq="YS"), "Y")
    assert years == ["2023", "2024"]  # the public pack's series may be yearly
    weeks = pd.date_range("2023-12-25", periods=7, freq="W-MON")
    assert charts.period_labels(weeks, "W") == [
        "déc.\n2023", "janv.\n2024", "", "", "", "", "févr.",
    ]  # fmt: skip


def test_fr_number() -> None:
    assert charts.fr_number(12345.678, 1) == "12\u202f345,7"
    assert charts.fr_number(1.26, 1, sign=True) == "+1,3"
    assert charts.fr_number(-3, 0, sign=True) == "-3"


def test_category_bars_groups_beyond_nine_and_keeps_totals(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    counts = pd.DataFrame(
        rng.poisson(np.linspace(8, 1, len(CODES)), size=(12, len(CODES))),
        index=_months(12),
        columns=list(CODES),
    )
    chart = charts.category_bars(counts, title="Essai — signalements par mois", freq="M")
    data = chart.data
    assert data["Début de période"].tolist()[:2] == ["2024-01-01", "2024-02-01"]
    # 13 categories: the 8 largest get a colour, the 5 others are grouped in grey.
    labels = [c for c in data.columns if c not in ("Début de période", "Total")]
    assert len(labels) == 9
    assert labels[-1] == charts.OTHERS_FR
    order = counts.sum().sort_values(ascending=False, kind="stable").index
    assert labels[:8] == [BY_CODE[c].label for c in order[:8]]
    assert (data["Total"].to_numpy() == counts.sum(axis=1).to_numpy()).all()
    grouped = counts[list(order[8:])].sum(axis=1).to_numpy()
    assert (data[charts.OTHERS_FR].to_numpy() == grouped).all()
    # The legend shows the French labels, one colour each, the grouped ones in grey.
    legend = chart.figure.axes[0].get_legend()
    assert {t.get_text() for t in legend.get_texts()} == set(labels)
    colours = {}
    for bars in chart.figure.axes[0].containers:
        colours[bars.get_label()] = to_hex(bars.patches[0].get_facecolor())
    assert len(set(colours.values())) == 9
    assert colours[charts.OTHERS_FR] == charts.GREY.lower()
    png, csv = charts.save_chart(chart, tmp_path / "categories.png")
    assert csv == tmp_path / "categories.csv"
    back = read_csv(csv)
    assert list(back.columns) == list(data.columns)
    assert back["Total"].sum() == counts.to_numpy().sum()
    with Image.open(png) as img:
        assert img.size == (1920, 1080)
        assert round(img.info["dpi"][0]) == 150


def test_category_bars_few_categories_no_grouping() -> None:
    counts = pd.DataFrame({"ascenseur": [3, 0, 5], "nuisibles": [0, 0, 1]}, index=_months(3))
    chart = charts.category_bars(counts, title="t")
    assert list(chart.data.columns) == [
        "Début de période", "Ascenseur en panne", "Nuisibles", "Total",
    ]  # fmt: skip
    assert chart.data["Total"].tolist() == [3, 0, 6]


def test_sen_line_through_the_median_intercept() -> None:
    values = np.array([1.0, 3.0, 2.0, 6.0, 5.0])
    line = trendchart.sen_line(1.0, values)
    # intercept = median(x_t − t) = median([1, 2, 0, 3, 1]) = 1
    assert line.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_building_trends_small_multiples() -> None:
    months = _months(12)
    series = pd.DataFrame(
        [np.arange(12), np.full(12, 3), np.arange(12)[::-1]],
        index=["way/1", "way/2", "way/3"],
        columns=months,
    )
    tests = pd.DataFrame(
        {
            "sens_slope_per_period": [1.0, 0.0, -1.0],
            "trend": ["hausse", "aucune", "baisse"],
            "trend_fr": ["hausse significative", "pas de tendance significative",
                         "baisse significative"],
            "mk_p": [0.001, 1.0, 0.001],
        },
        index=series.index,
    )  # fmt: skip
    chart = trendchart.building_trends(
        series,
        tests,
        labels={"way/1": "12 rue Lucie Aubrac"},
        emerging={"way/1": "Point chaud en intensification"},
        title="Bâtiments",
    )
    visible = [ax for ax in chart.figure.axes if ax.get_visible()]
    assert len(visible) == 3
    texts = _texts(chart)
    assert "12 rue Lucie Aubrac" in texts
    assert "way/2" in texts  # no label: the id
    assert any(t.startswith("Hausse significative\nSen : +1,0 / mois") for t in texts)
    assert any("Point chaud en intensification" in t for t in texts)
    assert len(chart.data) == 36
    assert chart.data.groupby("Bâtiment")["Signalements"].sum().to_dict() == {
        "way/1": 66, "way/2": 36, "way/3": 66,
    }  # fmt: skip
    assert set(chart.data["Tendance (Mann-Kendall)"]) == set(tests["trend_fr"])


def test_closing_delay_bars() -> None:
    delays = pd.DataFrame(
        {
            "median_delay_h": [30.0, 6.0, np.nan],
            "p90_delay_h": [100.0, 20.0, np.nan],
            "target_h": [48.0, np.nan, 72.0],
            "share_closed_within_target": [0.6, np.nan, np.nan],
            "n_closed": [10, 4, 0],
        },
        index=["ascenseur", "nuisibles", "eau_fuite"],
    )
    chart = charts.closing_delay_bars(delays, title="Délais")
    # The category without any closed report is left out; shortest median first.
    assert chart.data["Catégorie"].tolist() == ["Nuisibles", "Ascenseur en panne"]
    assert chart.data["Part close dans l'objectif (%)"].tolist()[1] == 60.0
    assert "60 % clos en 48 h au plus" in _texts(chart)
    ax = chart.figure.axes[0]
    assert ax.get_xlabel() == "Délai de clôture (jours)"
    markers = ax.collections[0].get_offsets()
    assert markers.tolist() == [[2.0, 1.0]]  # 48 h = 2 days, on the lift row


def test_empty_chart_says_why(tmp_path: Path) -> None:
    chart = charts.empty_chart("Délais", "Pas de date de clôture.")
    assert "Pas de date de clôture." in _texts(chart)
    _, csv = charts.save_chart(chart, tmp_path / "vide.png")
    assert read_csv(csv)["Message"].tolist() == ["Pas de date de clôture."]


# ------------------------------------------------------------------ real Paris 10e data
@pytest.fixture(scope="module")
def paris_charts(demo_run: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The charts drawn from the demo's published Paris tables into a folder of their own."""
    out = tmp_path_factory.mktemp("charts_paris") / "charts"
    config = load_config(demo_run.config)
    run_charts(config, config.site("paris10"), processed=demo_run.site("paris10"), dst_dir=out)
    return out


def test_paris_monthly_chart_is_readable_and_matches_the_series(
    paris_charts: Path, demo_run: Any
) -> None:
    png = paris_charts / "reports_by_category.png"
    data = read_csv(png.with_suffix(".csv"))
    # What publish passed on is what the chart shows: the committee profile's totals per
    # month, « s » where hidden, never a float nor a blank.
    published = read_published(demo_run.site("paris10") / "published")
    per_month = published.category_series.drop_duplicates("period_start")
    expected_total = [
        "s" if flag == "s" else str(int(n))
        for n, flag in zip(
            per_month["n_period_reports"], per_month["n_period_reports_flag"], strict=True
        )
    ]
    assert data["Total"].astype(str).tolist() == expected_total
    # A shown total is the exact count of the month's reports placed on a building (the
    # published tables count those); the trends stage's series counts them all.
    reports = pd.read_parquet(demo_run.site("paris10") / "reports.parquet")
    placed = reports[counted(reports, on_building=True)]
    exact = naive_dates(placed["reported_at"]).dt.to_period("M").value_counts()
    series = pd.read_parquet(demo_run.site("paris10") / "trends.parquet")
    site = series[series["level"] == "site"]
    shown = [(i, t) for i, t in enumerate(expected_total) if t != "s"]
    assert len(shown) >= len(expected_total) - 3
    months = pd.PeriodIndex(pd.to_datetime(per_month["period_start"]), freq="M")
    for i, t in shown:
        assert int(t) == exact.get(months[i], 0)
        assert int(t) <= site["n_reports"].iloc[i]
    assert data["Début de période"].iloc[0] == "2023-08-01"
    assert len(data) == 13
    # Category columns are the taxonomy's French labels of the categories reported.
    cats = series[series["level"] == "category"].groupby("key")["n_reports"].sum()
    expected = {BY_CODE[c].label for c in cats.index if cats[c] > 0}
    assert set(data.columns) - {"Début de période", "Total"} == expected
    with Image.open(png) as img:
        assert img.size == (1920, 1080)
        rgb = np.asarray(img.convert("RGB"))
    # Not blank: bars in several palette colours cover a real share of the picture.
    palette = {tuple(int(h[i : i + 2], 16) for i in (1, 3, 5)) for h in charts.PALETTE}
    pixels = {tuple(p) for p in rgb.reshape(-1, 3)[::7]}
    assert len(palette & pixels) >= 4
    assert (rgb.min(axis=2) < 200).mean() > 0.05


def test_paris_charts_all_exist(paris_charts: Path) -> None:
    for name in ("reports_by_category", "top_buildings", "closing_delays"):
        assert (paris_charts / f"{name}.png").stat().st_size > 10_000
        assert (paris_charts / f"{name}.csv").exists()
    # No closure date in DansMaRue: the delay chart says so.
    message = read_csv(paris_charts / "closing_delays.csv")
    assert "date de clôture" in message["Message"].iloc[0]


def test_the_demo_csv_files_open_in_columns_in_a_french_excel(demo_run: Any) -> None:
    """What a double-click in Excel (French settings) sees: a BOM, ``;`` between cells,
    numbers with a decimal comma that parse as numbers, in the demo's own chart data."""
    path = demo_run.site("bondy") / "charts" / "closing_delays.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header, first = raw[3:].decode("utf-8").splitlines()[:2]
    assert header.split(";")[:2] == ["Catégorie", "Signalements clos"]
    median = first.split(";")[2]  # « Délai médian (h) »
    assert "," in median, first
    assert "." not in median, first
    assert float(median.replace(",", ".")) > 0
    # And the CSV an analyst opens first, with its long original rows, reads back whole.
    rejected = demo_run.site("bondy") / "rejected.csv"
    frame = read_csv(rejected, dtype=str)
    assert len(frame) > 0
    assert list(frame.columns)[:3] == ["source", "source_file", "source_line"]


def test_names_from_data_are_never_mathtext(tmp_path: Path) -> None:
    """An OSM name or a label with ``$…$`` is drawn as written: matplotlib's mathtext
    would fail on ``$\\x$`` (unknown symbol) and abort the trends stage."""
    months = _months(12)
    series = pd.DataFrame([np.arange(12)], index=["way/1"], columns=months)
    tests = pd.DataFrame(
        {
            "sens_slope_per_period": [1.0],
            "trend": ["hausse"],
            "trend_fr": ["hausse significative"],
            "mk_p": [0.001],
        },
        index=series.index,
    )
    name = r"Résidence $\x$ {{7*7}}"
    chart = trendchart.building_trends(series, tests, labels={"way/1": name}, title=r"Site $\y$")
    png, _ = charts.save_chart(chart, tmp_path / "trends.png")
    with Image.open(png) as image:
        assert image.size == (1920, 1080)
    assert name in _texts(chart)


@pytest.mark.parametrize(
    ("labels", "first_days"),
    [
        (["2024-11", "2024-12"], ["2024-11-01", "2024-12-01"]),
        # The public profile coarsens the series: a quarter starts on the first day of
        # its first month (T3: July), a year on the 1st of January.
        (["2024-T3", "2024-T4"], ["2024-07-01", "2024-10-01"]),
        (["2024", "2025"], ["2024-01-01", "2025-01-01"]),
    ],
)
def test_category_series_starts_each_period_on_its_first_day(
    labels: list[str], first_days: list[str]
) -> None:
    rows = [(p, c, n) for p in labels for c, n in ((None, 5), ("ascenseur", 2))]
    series = pd.DataFrame(rows, columns=["month", "category", "n_reports"]).assign(
        n_reports_flag=""
    )
    out = category_series_of(series)
    assert sorted(set(out["period_start"].dt.strftime("%Y-%m-%d"))) == first_days
    lift = out[out["category"] == "ascenseur"]
    assert lift["n_reports"].tolist() == [2, 2]
    assert lift["n_period_reports"].tolist() == [5, 5]
    assert out.loc[out["category"] != "ascenseur", "n_reports"].eq(0).all()


def test_a_period_label_nobody_publishes_is_refused_in_french() -> None:
    # « S1 » (a half-year) is no label of the published tables: refused, the label
    # named (pandas' own guess reads « 2024-T3 » as the 1st of March).
    series = pd.DataFrame(
        {"month": ["2024-S1"], "category": [None], "n_reports": [1], "n_reports_flag": [""]}
    )
    with pytest.raises(ValueError, match="période publiée illisible : « 2024-S1 »"):
        category_series_of(series)


#: A long site name, as a configuration may give it (w9 hostile run: the charts' titles
#: ran off the image, cut mid-word).
LONG_NAME = "Bondy Nord – Noue-Caillet, Blanqui, Les Merisiers et Benhamou-Varagnat (bailleur)"


def _title_inside(chart: charts.Chart, title: str) -> None:
    fig = chart.figure
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    shown = [t for t in fig.findobj(lambda o: hasattr(o, "get_text")) if t.get_text() == title]
    assert shown, title
    box = shown[0].get_window_extent(renderer)
    assert box.x0 >= 0
    assert box.x1 <= fig.bbox.width
    assert shown[0].get_fontsize() >= charts.MIN_TITLE_SIZE


def test_long_site_names_keep_the_titles_inside_the_image() -> None:
    counts = pd.DataFrame({"ascenseur": [3, 5], "proprete": [1, 2]}, index=_months(2))
    title = f"{LONG_NAME} — signalements par mois et par catégorie"
    _title_inside(charts.category_bars(counts, title=title), title)
    title = f"{LONG_NAME} — délais de clôture par catégorie"
    _title_inside(charts.empty_chart(title, "Aucun signalement clos."), title)
    series = pd.DataFrame([[1, 2, 3]], index=["way/1"], columns=_months(3))
    tests = pd.DataFrame(
        {"sens_slope_per_period": [1.0], "trend": ["aucune"], "trend_fr": ["pas de tendance"],
         "mk_p": [0.5]}, index=["way/1"],
    )  # fmt: skip
    title = f"{LONG_NAME} — les 1 bâtiments les plus signalés : tendance"
    _title_inside(trendchart.building_trends(series, tests, labels={}, title=title), title)


def test_hidden_categories_fill_the_bar_up_to_the_published_total() -> None:
    """Hostile run of w9 (Bondy, profile « comite »): in January 269 reports were
    published as the month's total, but 9 of its 13 category cells were hidden; the chart
    stacked the 4 visible ones (76) and a hatched box 3 % tall: January read 76. The
    hidden part (the published total minus the visible cells, as the chart's own CSV
    gives them) is now one hatched block, so the bar reaches the total; a month whose
    total is hidden keeps the small « < 3 » box."""
    idx = _months(3)
    counts = pd.DataFrame(
        {"proprete": [24.0, 10.0, 5.0], "chauffage": [np.nan, 7.0, np.nan],
         "nuisibles": [22.0, np.nan, 2.0]}, index=idx,
    )  # fmt: skip
    hidden = counts.isna()
    totals = pd.Series([269.0, 20.0, np.nan], index=idx)
    chart = charts.category_bars(
        counts, title="Essai", totals=totals, hidden=hidden,
        totals_hidden=pd.Series([False, False, True], index=idx),
    )  # fmt: skip
    ax = chart.figure.axes[0]
    tops: dict[int, float] = {}
    for p in ax.patches:
        x = round(p.get_x() + p.get_width() / 2)
        tops[x] = max(tops.get(x, 0.0), p.get_y() + p.get_height())
    assert tops[0] == pytest.approx(269.0)
    assert tops[1] == pytest.approx(20.0)
    hatched = {round(p.get_x() + p.get_width() / 2): p for p in ax.patches if p.get_hatch()}
    assert hatched[0].get_height() == pytest.approx(269.0 - 46.0)
    assert hatched[2].get_height() == pytest.approx(0.03 * 269.0)  # the small box, as before
    labels = [t.get_text() for t in ax.texts]
    assert labels.count("< 3") == 1  # only above the month whose total is hidden
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert charts.HIDDEN_REST_FR in legend
    assert any(t.startswith("« < 3 »") for t in legend)
    assert chart.data["Total"].astype(str).tolist() == ["269", "20", "s"]
