"""``site.json`` as the pack publishes it: its trends headline tested on the site's
series as published, or withheld where a period of it is hidden
(:func:`with_published_trend`), and every other count of the site's reports made its
published total, rounded or hidden with its flag (:func:`with_published_site_total`).
:func:`pipelines.publish.protect.apply_profile` calls both last.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipelines.hotspots import too_few_note_fr
from pipelines.publish.headline import published_headline
from pipelines.trends import too_few_trend_fr


def with_published_trend(
    site: dict[str, Any], category_series: pd.DataFrame, *, freq: str
) -> dict[str, Any]:
    """``site.json`` whose trends headline is the test of the site's series as the pack
    publishes it, or withheld where a period of it is hidden
    (:func:`~pipelines.publish.headline.published_headline`): the trends stage's, of the
    exact monthly series, gave hidden months back."""
    trends = site.get("trends") or {}
    head = trends.get("headline")
    if not isinstance(head, dict):
        return site
    head = published_headline(head, category_series, freq=freq)
    return {**site, "trends": {**trends, "headline": head}}


def with_published_site_total(site: dict[str, Any]) -> dict[str, Any]:
    """``site.json`` whose other counts of the site's reports are its published total
    (``totals.reports_counted``, rounded or hidden by the engine, with its flag).

    The hotspot stage's sample (``too_few_reports.site.reports_counted``: the reports on
    the buildings, the site cell's population) and the trends headline
    (``trends.headline.n_reports``) were copied exact: Bondy's open-data pack said 7 045
    and 7 025 beside its total rounded to 5, Paris's committee pack 107 and 106 beside
    its total hidden (« s », a secondary suppression), which they gave back. Both now
    say the published total and its flag, so that every count of the site agrees with
    it. The headline's own count was of another population (every counted report,
    with those placed on no building: 20 on Bondy, 1 on Paris) that no table publishes;
    its test still runs on that series, and its figures (S, z, p, Sen's slope) stay.
    Where either stage found too few reports to conclude, its sentence says so with the
    minimum instead of the exact count it gave."""
    totals = site.get("totals") or {}
    shown = {"reports_counted": totals.get("reports_counted")}
    flag = str(totals.get("reports_counted_flag") or "")
    out = dict(site)
    block = out.get("too_few_reports") or {}
    sample = block.get("site")
    if isinstance(sample, dict):
        sample = {**sample, **shown, "reports_counted_flag": flag}
        if sample.get("too_few_reports"):
            sample["note_fr"] = too_few_note_fr(int(sample["min_reports"]))
        out["too_few_reports"] = {**block, "site": sample}
    trends = out.get("trends") or {}
    head = trends.get("headline")
    if isinstance(head, dict):
        head = {**head, "n_reports": shown["reports_counted"], "n_reports_flag": flag}
        if head.get("too_few_reports"):
            head["trend_fr"] = too_few_trend_fr(int(head["min_reports"]))
        out["trends"] = {**trends, "headline": head}
    return out
