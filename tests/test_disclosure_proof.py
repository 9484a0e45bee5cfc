"""The audit of tables a protection made takes the intervals that protection proved
(:mod:`pipelines.stats.proof`) where they still stand, and only there: on the real
Paris reports, the same tables in another order, tables hiding more, tables that lost a
flag, and other reports."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipelines.stats import attacker
from pipelines.stats import disclosure as sdc
from tests.test_disclosure import BC, paris_microdata

#: Building × category and month × category, with their margins.
TABLES: list[sdc.Table] = [*BC, ("month", "category"), ("month",)]


@pytest.fixture(scope="module")
def paris() -> tuple[pd.DataFrame, sdc.Protection]:
    df = paris_microdata()
    return df, sdc.protect(df, TABLES)


def _verdict(audit: dict) -> list[tuple]:
    """What an audit says of each table, but the certified intervals (which depend on
    the feasible points met)."""
    return [
        (tuple(t["dims"]), t["n_cells"], t["n_hidden"]["total"], t["n_unprotected"])
        for t in audit["tables"]
    ]


def test_the_audit_of_what_a_protection_made_solves_no_program_again(paris) -> None:
    df, out = paris
    plain = sdc.audit(df, out.tables)
    # the same tables in the reverse order: the cells are matched by their keys
    tables = dict(reversed(list(out.tables.items())))
    proven = sdc.audit(df, tables, proof=out.proof)
    assert plain["passed"]
    assert proven["passed"]
    assert plain["n_lp"] > 0
    assert proven["n_lp"] == 0
    assert out.proof is not None
    assert proven["n_proven"] == len(out.proof.targets) > 0
    assert sorted(_verdict(proven)) == sorted(_verdict(plain))


def test_tables_hiding_more_keep_the_proof(paris) -> None:
    df, out = paris
    bc = out.tables[("building_id", "category")]
    shown = np.flatnonzero((bc["flag"] == sdc.FLAG_SHOWN).to_numpy())
    more = bc.copy()
    more.loc[more.index[shown[:5]], "flag"] = sdc.FLAG_HIDDEN
    audit = sdc.audit(df, {**out.tables, ("building_id", "category"): more}, proof=out.proof)
    assert audit["passed"]
    assert audit["n_lp"] == 0
    assert audit["n_proven"] == len(out.proof.targets)


def test_a_flag_lost_after_the_protection_is_audited_again(paris) -> None:
    """Every secondary cell of the building × category table shown again (as a bug in
    the tables' making would): the proof no longer holds, the audit solves and fails,
    as it does without the proof."""
    df, out = paris
    bc = out.tables[("building_id", "category")]
    lost = bc.assign(flag=np.where(bc["reason"] == sdc.REASON_SECONDARY, "", bc["flag"]))
    assert (lost["flag"] != bc["flag"]).any()
    tables = {**out.tables, ("building_id", "category"): lost}
    audit = sdc.audit(df, tables, proof=out.proof)
    assert audit["n_proven"] == 0
    assert audit["n_lp"] > 0
    assert not audit["passed"]
    assert _verdict(audit) == _verdict(sdc.audit(df, tables))


def test_a_proof_of_other_reports_is_not_taken(paris) -> None:
    df, out = paris
    fewer = df.drop(index=df.index[:1]).reset_index(drop=True)
    audit = sdc.audit(fewer, out.tables, proof=out.proof)
    assert audit["n_proven"] == 0
    assert audit["n_lp"] > 0


def test_the_push_saves_programs_and_changes_no_hidden_cell(
    paris, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feasible points a block's push gathers only spare programs: which targets
    fail, and the duals that choose the cells hidden for them, come from their own
    programs, so the tables are the same without the push, for more programs (with the
    council × month × type table, whose blocks hold enough targets to be pushed)."""
    df, _ = paris
    tables = [("building_id", "month", "category"), *TABLES]
    pushes = {"n": 0}
    push = attacker._push

    def counted(*args: Any, **kwargs: Any) -> None:
        pushes["n"] += 1
        push(*args, **kwargs)

    monkeypatch.setattr(attacker, "_push", counted)
    pushed = sdc.protect(df, tables)
    assert pushes["n"] > 0
    monkeypatch.setattr(attacker, "_push", lambda *args, **kwargs: None)
    without = sdc.protect(df, tables)
    assert without.audit["n_lp"] > pushed.audit["n_lp"]
    for t, frame in pushed.tables.items():
        pd.testing.assert_frame_equal(without.tables[t], frame)
