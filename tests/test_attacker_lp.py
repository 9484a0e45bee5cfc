"""The attacker's linear programs (:func:`pipelines.stats.attacker._solve`: one HiGHS
model per component, built once through highspy and re-solved per objective) against
``scipy.optimize.linprog`` on the same programs, which the engine used to call.

The systems are built from DansMaRue's 10,000 real Paris reports (data/raw): the
junction tree of the bench's linked tables, and the base cells of a cyclic set of
tables (whose hidden cells are ``≥ 1`` rows), where some maxima are unbounded and
some components hold no equality at all.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from scipy import sparse
from scipy.optimize import linprog

from pipelines.stats import attacker
from pipelines.stats import disclosure as sdc
from pipelines.stats.system import LinearSystem, linear_system
from tests.test_disclosure import paris_microdata

LINKED: list[sdc.Table] = [
    ("building_id", "category"),
    ("building_id",),
    ("category",),
    ("month", "category"),
    ("month",),
    (),
]
CYCLIC: list[sdc.Table] = [
    ("building_id", "category"),
    ("month", "category"),
    ("building_id", "month"),
]

Solved = list[tuple[float, npt.NDArray[np.float64] | None, npt.NDArray[np.float64] | None]]


def linprog_solve(block: Any, obj: npt.NDArray[np.float64], senses=(1.0, -1.0)) -> Solved:
    """What ``_solve`` computed before highspy: one ``linprog`` call per sense."""
    out: Solved = []
    has_ub, has_eq = block.a_ub.shape[0] > 0, block.a.shape[0] > 0
    for sign in senses:
        res = linprog(
            sign * obj,
            A_ub=-block.a_ub if has_ub else None,
            b_ub=-block.b_ub if has_ub else None,
            A_eq=block.a if has_eq else None,
            b_eq=block.b if has_eq else None,
            bounds=np.column_stack([block.lower, np.full(block.lower.size, np.inf)]),
            method="highs",
            options={"presolve": False},
        )
        if res.status == 3:
            out.append((math.inf, None, None))
            continue
        assert res.status == 0, res.message
        duals = np.asarray(res.eqlin.marginals) if has_eq else np.zeros(0)
        out.append((sign * float(res.fun), duals, np.asarray(res.x)))
    return out


class Checked:
    """``_solve`` wrapped: every call is checked against :func:`linprog_solve` on the
    same component and objective, and counted by kind."""

    def __init__(self, solve: Callable[..., Solved]) -> None:
        self.solve = solve
        self.n = {"lp": 0, "unbounded": 0, "no_equality": 0, "with_ge_rows": 0, "certified": 0}

    def __call__(self, block: Any, obj: npt.NDArray[np.float64], senses=(1.0, -1.0)) -> Solved:
        got = self.solve(block, obj, senses)
        want = linprog_solve(block, obj, senses)
        assert len(got) == len(want) == len(senses)
        for sign, (fun, duals, x), (fun0, duals0, _) in zip(senses, got, want, strict=True):
            self.n["lp"] += 1
            self.n["no_equality"] += block.a.shape[0] == 0
            self.n["with_ge_rows"] += block.a_ub.shape[0] > 0
            if math.isinf(fun0):
                assert (fun, duals, x) == (math.inf, None, None)
                assert sign == -1.0  # only a maximum can be unbounded
                self.n["unbounded"] += 1
                continue
            assert fun == pytest.approx(fun0, rel=0, abs=1e-9)
            assert x is not None
            assert duals is not None
            # x is a feasible point reaching the optimum.
            np.testing.assert_allclose(block.a @ x, block.b, rtol=0, atol=1e-9)
            assert (block.a_ub @ x >= block.b_ub - 1e-9).all()
            assert (x >= block.lower - 1e-9).all()
            assert float(obj @ x) == pytest.approx(fun, rel=0, abs=1e-9)
            assert duals0 is not None
            assert duals.shape == duals0.shape
            # The duals need not be linprog's: these programs are degenerate, and a
            # solve started from another basis may end at another optimal vertex. They
            # must prove the bound all the same (the shown cells they name bind it).
            if block.a_ub.shape[0] == 0 and duals.size:
                # Only equalities and lower bounds: the duals alone certify the bound.
                # Reduced costs c − Aᵀy are ≥ 0 (dual feasible for the minimum) and
                # y·b + (c − Aᵀy)·lower is the optimum (a sign error would break both).
                reduced = sign * obj - block.a.T @ duals
                assert (reduced >= -1e-9).all()
                bound = float(duals @ block.b + reduced @ block.lower)
                assert bound == pytest.approx(sign * fun, rel=0, abs=1e-9)
                self.n["certified"] += 1
        return got


def intervals_both_ways(
    monkeypatch: pytest.MonkeyPatch,
    system: LinearSystem,
    hidden: npt.NDArray[np.bool_],
    width: float | None,
) -> tuple[attacker.Intervals, attacker.Intervals, Checked]:
    """The intervals of every hidden cell with highspy (each LP checked against
    linprog), then with linprog alone."""
    targets = np.flatnonzero(hidden)
    checked = Checked(attacker._solve)
    with monkeypatch.context() as m:
        m.setattr(attacker, "_solve", checked)
        new = attacker.feasible_intervals(system, hidden, targets, width=width)
    with monkeypatch.context() as m:
        m.setattr(attacker, "_solve", linprog_solve)
        old = attacker.feasible_intervals(system, hidden, targets, width=width)
    return new, old, checked


def assert_same(new: attacker.Intervals, old: attacker.Intervals, width: float | None) -> None:
    """The same attacker, whichever optimal vertex each program ends at: the exact
    intervals are linprog's; a certified one (``exact`` False, met at feasible points)
    lies inside the exact one and is wide enough; a target is protected in both or in
    neither; every exact interval has its binding cells."""
    both = new.exact & old.exact
    np.testing.assert_array_equal(new.lo[both], old.lo[both])
    np.testing.assert_array_equal(new.hi[both], old.hi[both])
    if width is None:
        assert new.exact.all()
        assert old.exact.all()
        return
    for iv, other in ((new, old), (old, new)):
        inner = ~iv.exact & other.exact
        assert (iv.lo[inner] >= other.lo[inner]).all()
        assert (iv.hi[inner] <= other.hi[inner]).all()
        assert (iv.hi[~iv.exact] - iv.lo[~iv.exact] >= width).all()
    np.testing.assert_array_equal(new.hi - new.lo >= width, old.hi - old.lo >= width)


@pytest.fixture(scope="module")
def paris() -> pd.DataFrame:
    return paris_microdata()


@pytest.mark.parametrize("width", [None, sdc.COMITE.width, sdc.PUBLIC.width])
def test_linked_tables_give_linprogs_intervals(
    monkeypatch: pytest.MonkeyPatch, paris: pd.DataFrame, width: float | None
) -> None:
    """Junction tree over the linked tables; hidden: the primary cells, then a tenth of
    all cells more (fixed seed), solved exactly and with the committee's and the public
    widths (which stop at the first feasible points wide enough)."""
    cells = sdc.cell_table(paris, LINKED, sdc.COMITE)
    system = linear_system(paris, LINKED, cells)
    assert system.method == "junction-tree"
    primary = (cells["reason"] != "").to_numpy()
    more = np.random.default_rng(7).random(len(cells)) < 0.1
    for hidden in (primary, primary | more):
        new, old, checked = intervals_both_ways(monkeypatch, system, hidden, width)
        assert_same(new, old, width)
        assert checked.n["lp"] > 10
        # The junction tree's unknowns are at least 1: no "≥" rows, every LP certified.
        assert checked.n["certified"] == checked.n["lp"] - checked.n["unbounded"]


@pytest.mark.parametrize("share", [0.5, 1.0])
def test_base_cells_give_linprogs_intervals(
    monkeypatch: pytest.MonkeyPatch, paris: pd.DataFrame, share: float
) -> None:
    """Base cells of a cyclic set over three neighbourhood councils: hidden cells are
    "≥ 1" rows; with half the cells hidden some maxima are unbounded, with all of them
    hidden no equality is left."""
    sub = paris[paris["building_id"].isin(sorted(paris["building_id"].unique())[:3])]
    cells = sdc.cell_table(sub, CYCLIC, sdc.COMITE)
    system = linear_system(sub, CYCLIC, cells)
    assert system.method == "base-cells"
    hidden = np.random.default_rng(3).random(len(cells)) < share
    new, old, checked = intervals_both_ways(monkeypatch, system, hidden, None)
    assert_same(new, old, None)
    assert checked.n["with_ge_rows"] == checked.n["lp"] > 10
    assert checked.n["unbounded"] > 0
    if share == 1.0:
        assert checked.n["no_equality"] == checked.n["lp"]
        assert np.isinf(new.hi).all()
    else:
        assert checked.n["no_equality"] < checked.n["lp"]


def test_a_failed_program_raises_the_french_error(paris: pd.DataFrame) -> None:
    """A component whose equalities no point meets (its true values broken by hand):
    HiGHS says infeasible, and the audit stops with its French message."""
    cells = sdc.cell_table(paris, LINKED, sdc.COMITE)
    system = linear_system(paris, LINKED, cells)
    # Below the unknowns' least value (1): the shown cells' sums cannot be met.
    broken = LinearSystem(
        system.incidence,
        np.full_like(system.value, 0.5),
        system.links,
        system.method,
        system.lower,
    )
    hidden = (cells["reason"] != "").to_numpy()
    targets = np.flatnonzero(hidden)
    with pytest.raises(RuntimeError, match="Audit : programme linéaire non résolu"):
        attacker.feasible_intervals(broken, hidden, targets)


def test_a_maximum_solved_by_the_push_up_is_not_solved_again(
    monkeypatch: pytest.MonkeyPatch, paris: pd.DataFrame
) -> None:
    """A target whose push up (its maximum) does not certify it is then solved exactly
    with that maximum's answer and its minimum only: solving the maximum again gives the
    same answer bit for bit (each solve starts from the block's first basis), and
    ``n_lp`` counts the programs HiGHS solved, one fewer per such target than when both
    were solved."""
    cells = sdc.cell_table(paris, LINKED, sdc.COMITE)
    system = linear_system(paris, LINKED, cells)
    more = np.random.default_rng(11).random(len(cells)) < 0.1
    hidden = (cells["reason"] != "").to_numpy() | more
    targets = np.flatnonzero(hidden)
    runs = {"n": 0}
    run = attacker._run

    def counted(*args: Any) -> Any:
        runs["n"] += 1
        return run(*args)

    maxima: dict[tuple[int, bytes], Any] = {}
    reused = {"n": 0}
    solve = attacker._solve

    def watched(block: Any, obj: npt.NDArray[np.float64], senses=(1.0, -1.0)) -> Any:
        got = solve(block, obj, senses)
        if senses == (-1.0,):
            maxima[id(block), obj.tobytes()] = got[0]
        elif senses == (1.0,):  # the maximum is the push up's: the same program
            answer = maxima[id(block), obj.tobytes()]
            again = run(block, np.ascontiguousarray(obj), -1.0)
            assert again[0] == answer[0]
            for a, b in zip(again[1:], answer[1:], strict=True):
                np.testing.assert_array_equal(a, b)
            reused["n"] += 1
        return got

    monkeypatch.setattr(attacker, "_run", counted)
    monkeypatch.setattr(attacker, "_solve", watched)
    iv = attacker.feasible_intervals(system, hidden, targets, width=sdc.COMITE.width)
    assert reused["n"] > 0
    assert runs["n"] == iv.n_lp  # one solve per program counted (the checks' aside)
    assert (~iv.exact).any()
    assert iv.exact.any()


def test_a_programs_answer_does_not_depend_on_the_programs_solved_before(
    monkeypatch: pytest.MonkeyPatch, paris: pd.DataFrame
) -> None:
    """Each solve starts from its block's first basis, not from the last solve's: the
    same objectives solved in the opposite order on a fresh block give the same optima,
    points and duals bit for bit. The duals choose the cells protect() hides, so a
    site's publication does not depend on the order its targets are met in (nor a
    parallel run on anything a sequential one does not). Set the basis without clearing
    the solver first and HiGHS carries its state over: some answers get other duals."""
    cells = sdc.cell_table(paris, LINKED, sdc.COMITE)
    system = linear_system(paris, LINKED, cells)
    hidden = (cells["reason"] != "").to_numpy() | (
        np.random.default_rng(11).random(len(cells)) < 0.1
    )
    targets = np.flatnonzero(hidden)
    blocks: list[Any] = []

    def kept(block: Any, obj: npt.NDArray[np.float64], senses=(1.0, -1.0)) -> Solved:
        blocks.append(block)
        return solve(block, obj, senses)

    solve = attacker._solve
    with monkeypatch.context() as m:
        m.setattr(attacker, "_solve", kept)
        attacker.feasible_intervals(system, hidden, targets)
    big = max(blocks, key=lambda b: b.a.shape[1])
    assert big.a.shape[1] >= 20
    assert big.members.shape[0] >= 20
    objs = [attacker._dense_row(big.members, k) for k in range(big.members.shape[0])]
    objs = [o for o in objs if o.any()]
    assert len(objs) >= 20

    def fresh() -> Any:
        return dataclasses.replace(big, highs=None, basis=None)

    forward = [solve(b, o) for b in [fresh()] for o in objs]
    backward = [solve(b, o) for b in [fresh()] for o in objs[::-1]][::-1]
    for one, other in zip(forward, backward, strict=True):
        for (f0, d0, x0), (f1, d1, x1) in zip(one, other, strict=True):
            assert f0 == f1
            for a, b in ((d0, d1), (x0, x1)):
                assert (a is None) == (b is None)
                if a is not None:
                    np.testing.assert_array_equal(a, b)


def test_a_target_posed_twice_costs_no_program(paris: pd.DataFrame) -> None:
    """Targets adding up the same unknowns (here every target twice) pose the same
    programs: each is solved once, the later target taking the earlier one's answers,
    so the exact intervals cost the LPs of the targets once, and are the same."""
    cells = sdc.cell_table(paris, LINKED, sdc.COMITE)
    system = linear_system(paris, LINKED, cells)
    hidden = (cells["reason"] != "").to_numpy() | (
        np.random.default_rng(11).random(len(cells)) < 0.1
    )
    targets = np.flatnonzero(hidden)
    once = attacker.feasible_intervals(system, hidden, targets)
    twice = attacker.feasible_intervals(system, hidden, np.concatenate([targets] * 2))
    n = len(targets)
    assert once.n_lp > 0
    assert twice.n_lp == once.n_lp
    for half in (slice(0, n), slice(n, 2 * n)):
        np.testing.assert_array_equal(twice.lo[half], once.lo)
        np.testing.assert_array_equal(twice.hi[half], once.hi)
    assert twice.binding == once.binding


def test_dense_row_is_scipys_row() -> None:
    """``_dense_row`` gives scipy's ``m[k].todense()`` bit for bit, on a random sparse
    matrix (fixed seed) with entries stored twice (not summed), rows empty included."""
    rng = np.random.default_rng(5)
    rows = rng.integers(0, 40, 300)
    cols = rng.integers(0, 25, 300)
    m = sparse.csr_matrix((rng.random(300), (rows, cols)), shape=(45, 25))
    dup = sparse.csr_matrix(  # the first 50 entries stored again at the end of row 44
        (np.concatenate([m.data, m.data[:50]]),
         np.concatenate([m.indices, m.indices[:50]]),
         np.concatenate([m.indptr[:-1], [m.nnz + 50]])),
        shape=m.shape,
    )  # fmt: skip
    assert not dup.has_canonical_format
    for mat in (m, dup):
        for k in range(mat.shape[0]):
            want = np.asarray(mat[k].todense()).ravel()
            assert attacker._dense_row(mat, k).tobytes() == want.tobytes()


def test_the_push_certifies_only_targets_their_own_programs_show_wide_enough(
    paris: pd.DataFrame,
) -> None:
    """The push (rounds of weighted sums, the least tried targets first) against plain
    solving, every target's two programs, on the council × month × type table and its
    margins (one block of 931 primary targets): the same targets fail, with the same
    exact intervals and the same binding cells (they choose the cells protect() hides);
    a target certified by the points the push met lies inside its exact interval and is
    wide enough, so no cell a plain program shows too narrow passes."""
    tables = [("building_id", "month", "category"), *LINKED]
    cells = sdc.cell_table(paris, tables, sdc.COMITE)
    system = linear_system(paris, tables, cells)
    hidden = (cells["reason"] != "").to_numpy()
    targets = np.flatnonzero(hidden)
    width = sdc.COMITE.width
    pushed = attacker.feasible_intervals(system, hidden, targets, width=width)
    plain = attacker.feasible_intervals(system, hidden, targets)
    narrow = plain.hi - plain.lo < width
    certified = ~pushed.exact
    assert narrow.sum() > 500
    assert certified.sum() > 100
    np.testing.assert_array_equal(pushed.hi - pushed.lo < width, narrow)
    assert pushed.exact[narrow].all()
    np.testing.assert_array_equal(pushed.lo[narrow], plain.lo[narrow])
    np.testing.assert_array_equal(pushed.hi[narrow], plain.hi[narrow])
    for cell in targets[narrow]:
        assert pushed.binding[int(cell)] == plain.binding[int(cell)]
    assert (pushed.lo[certified] >= plain.lo[certified]).all()
    assert (pushed.hi[certified] <= plain.hi[certified]).all()
    assert (pushed.hi[certified] - pushed.lo[certified] >= width).all()
    assert pushed.n_lp < plain.n_lp


def test_the_push_gives_the_targets_earlier_rounds_left_their_turn(paris: pd.DataFrame) -> None:
    """Linked tables with the primary cells and two cells in five more hidden (fixed
    seed): 556 targets, 19 of them too narrow. Taken in order with equal weights and
    two rounds each, the push's rounds raised the same first targets again and again
    and 127 programs were solved; the least tried first, weighing more per round, 72.
    The targets failing are the same as with every program solved."""
    cells = sdc.cell_table(paris, LINKED, sdc.COMITE)
    system = linear_system(paris, LINKED, cells)
    hidden = (cells["reason"] != "").to_numpy() | (
        np.random.default_rng(11).random(len(cells)) < 0.4
    )
    targets = np.flatnonzero(hidden)
    width = sdc.COMITE.width
    iv = attacker.feasible_intervals(system, hidden, targets, width=width)
    assert iv.n_lp <= 80
    plain = attacker.feasible_intervals(system, hidden, targets)
    np.testing.assert_array_equal(iv.hi - iv.lo < width, plain.hi - plain.lo < width)
    assert ((plain.hi - plain.lo) < width).sum() == 19


def test_a_solve_leaves_highs_with_its_objective_alone(paris: pd.DataFrame) -> None:
    """Only the costs that change are passed to HiGHS: after a maximum of one target
    then the minimum of another, the model's costs are exactly the second objective's
    (none of the first left behind)."""
    cells = sdc.cell_table(paris, LINKED, sdc.COMITE)
    system = linear_system(paris, LINKED, cells)
    hidden = (cells["reason"] != "").to_numpy()
    blocks: list[Any] = []
    solve = attacker._solve

    def kept(block: Any, obj: npt.NDArray[np.float64], senses=(1.0, -1.0)) -> Solved:
        blocks.append(block)
        return solve(block, obj, senses)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(attacker, "_solve", kept)
        attacker.feasible_intervals(system, hidden, np.flatnonzero(hidden))
    big = max(blocks, key=lambda b: b.a.shape[1])
    objs = [attacker._dense_row(big.members, k) for k in range(big.members.shape[0])]
    first, second = [o for o in objs if o.any()][:2]
    assert (first != second).any()
    attacker._solve(big, first, (-1.0,))
    attacker._solve(big, second, (1.0,))
    np.testing.assert_array_equal(np.asarray(big.highs.getLp().col_cost_), second)
