"""The block rule's search (docs/clearing.md, "Block orders", step 1): blocks the network
cannot serve are fixed off exactly, and the warm GLOP branch and bound agrees with HiGHS's
full MIP (its fallback) and with the reference's MIP optimum."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
from multi_reference import check_multi_result, parse, solve_mip

import matching.multi.clearing as core
from matching import clear_document
from matching.multi.problem import parse as multi_parse
from tests.support.multi_problems import random_multi_problem

HOUR = [{"start": "2026-06-15T12:00:00+00:00", "minutes": 60}]


def behind_a_line(block_kwh: float) -> dict[str, Any]:
    """A buy block at B, which only a 4 kW line from A (plenty of supply there) reaches."""
    return {
        "intervals": HOUR,
        "network": {
            "nodes": [{"id": "A"}, {"id": "B"}],
            "lines": [{"id": "AB", "from": "A", "to": "B", "capacity_kw": 4.0}],
        },
        "orders": [
            {"id": "s", "node": "A", "side": "sell", "quantity_kwh": 50.0, "price": 0.2},
            {"id": "b", "node": "A", "side": "buy", "quantity_kwh": 1.0, "price": 0.25},
        ],
        "blocks": [
            {
                "id": "B1",
                "node": "B",
                "side": "buy",
                "price": 0.9,
                "first_interval": 0,
                "quantities_kwh": [block_kwh],
            },
        ],
    }


@pytest.mark.parametrize("kwh,unservable", [(10.0, True), (4.0, False), (3.0, False)])
def test_a_block_the_network_cannot_serve_is_fixed_off(kwh: float, unservable: bool) -> None:
    doc = behind_a_line(kwh)
    problem = multi_parse(copy.deepcopy(doc))
    topo = core.topology(problem)
    _, steps = core.order_steps(problem)
    assert core._unservable(problem, steps, topo).tolist() == [unservable]
    result = clear_document(copy.deepcopy(doc))
    assert result["status"] == "optimal", result["reason"]
    assert (result["blocks"][0]["accepted_ratio"] == 0.0) is unservable
    assert check_multi_result(doc, result) == []


def day(seed: int) -> dict[str, Any]:
    return random_multi_problem(
        12, 300, 20, seed=seed, n_storage=3, n_blocks=30, n_groups=4, group_size=5
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_branch_and_bound_agrees_with_highs_and_the_reference(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """12 intervals, 20 nodes, 3 storage units, 30 blocks in groups: the search decides
    (`branch and bound` in the reason); with no node LPs allowed HiGHS's full MIP decides
    instead; the welfare is the same to the 1e-4 gap, never above the MIP optimum, and both
    answers pass every rule."""
    doc = day(seed)
    ours = clear_document(copy.deepcopy(doc))
    assert ours["status"] == "optimal", ours["reason"]
    assert "branch and bound" in ours["reason"]
    monkeypatch.setattr(core, "BRANCH_NODES", 0)
    highs = clear_document(copy.deepcopy(doc))
    assert highs["status"] == "optimal", highs["reason"]
    assert "full MIP" in highs["reason"]
    assert math.isclose(ours["welfare"], highs["welfare"], rel_tol=1e-4)
    mip, _ = solve_mip(parse(doc), set())
    assert ours["welfare"] <= mip + 1e-6 * max(1.0, abs(mip))
    assert check_multi_result(doc, ours) == []
    assert check_multi_result(doc, highs) == []


def test_a_warm_node_whose_bounds_only_shrank_around_the_last_optimum_is_not_resolved() -> None:
    """`WarmLp.solve`: the last optimum stays optimal when the on/off bounds only shrink and
    still hold it (no solve); when a bound widens it is solved again."""
    import numpy as np

    from matching.multi.branch import WarmLp

    problem = multi_parse(copy.deepcopy(day(0)))
    canon, _, _ = core.canonical(problem)
    topo = core.topology(canon)
    _, steps = core.order_steps(canon)
    mip = core.build(canon, steps, topo, None, None)
    ycol = mip.layout.variable("block_on")
    n = ycol.stop - ycol.start
    warm = WarmLp(mip, np.arange(ycol.start, ycol.stop, dtype=np.int64))
    root = warm.solve(np.zeros(n), np.ones(n), None)
    assert root.optimal and warm.solves == 1
    on = np.round(root.y)
    decided = np.abs(root.y - on) <= 1e-9
    assert not decided.all()  # this day's relaxation leaves blocks fractional
    # the decided ones fixed where they are: the same optimum, no solve
    lower, upper = np.where(decided, on, 0.0), np.where(decided, on, 1.0)
    assert warm.solve(lower, upper, None) is root and warm.solves == 1
    # a fractional one fixed: solved, and its bound is at most the relaxation's
    k = int(np.flatnonzero(~decided)[0])
    lower[k] = upper[k] = 1.0
    node = warm.solve(lower, upper, None)
    assert warm.solves == 2 and node.objective <= root.objective + 1e-9
    # widened again: solved afresh (the last optimum is not the relaxation's)
    again = warm.solve(np.zeros(n), np.ones(n), None)
    assert warm.solves == 3
    assert math.isclose(again.objective, root.objective, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_dive_and_cold_root_keep_the_welfare_within_the_gap(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dive (step 1(c)) and the cold relaxation of large models (`COLD_ROOT_COLUMNS`)
    only change how decisions are found: with both off, with the cold root forced on every
    size, and with HiGHS alone, the welfare agrees to the 1e-4 gap and every answer passes
    the rules."""
    doc = day(seed)
    default = clear_document(copy.deepcopy(doc))
    monkeypatch.setattr(core, "DIVE_NODES", 0)
    no_dive = clear_document(copy.deepcopy(doc))
    monkeypatch.setattr(core, "COLD_ROOT_COLUMNS", 0)
    cold = clear_document(copy.deepcopy(doc))
    monkeypatch.setattr(core, "BRANCH_NODES", 0)
    highs = clear_document(copy.deepcopy(doc))
    mip, _ = solve_mip(parse(doc), set())
    for result in (default, no_dive, cold, highs):
        assert result["status"] == "optimal", result["reason"]
        assert math.isclose(result["welfare"], highs["welfare"], rel_tol=1e-4)
        assert result["welfare"] <= mip + 1e-6 * max(1.0, abs(mip))
        assert check_multi_result(doc, result) == []


def test_restrict_keeps_exact_leaves_drops_impossible_ones_and_marks_the_rest_stale() -> None:
    """`branch.restrict`: a leaf fixing a now forbidden block on is dropped; a leaf whose LP
    optimum has that block at 0 keeps it (exact); one whose optimum used it keeps only its
    bound (y None, solved when reached)."""
    import numpy as np

    from matching.multi.branch import Leaf, restrict

    one, zero = np.ones(3), np.zeros(3)
    on_fixed = Leaf(10.0, np.array([1.0, 0.0, 0.0]), one.copy(), np.array([1.0, 0.5, 0.0]))
    exact = Leaf(9.0, zero.copy(), np.array([0.0, 1.0, 1.0]), np.array([0.0, 0.5, 1.0]))
    stale = Leaf(8.0, zero.copy(), one.copy(), np.array([0.25, 0.5, 1.0]))
    upper = np.array([0.0, 1.0, 1.0])  # block 0 is forbidden now
    out = restrict((on_fixed, exact, stale), zero, upper)
    assert [leaf.bound for leaf in out] == [9.0, 8.0]
    assert out[0].y is not None and out[0].y.tolist() == [0.0, 0.5, 1.0]
    assert out[1].y is None and out[1].upper.tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize("seed", [3, 8, 27])
def test_later_rounds_from_the_previous_tree_keep_the_rule_and_the_gap(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Days where the rule rejects paradoxically accepted blocks after a branch and bound
    (two to four rounds): a later round searching from the previous round's leaves
    (`REUSE_TREE`, which it does here) and one searching afresh from the relaxation find
    decisions whose welfare agrees to the 1e-4 gap, and both answers pass every rule."""
    from matching.multi import branch

    doc = random_multi_problem(
        12, 300, 20, seed=seed, n_storage=3, n_blocks=30, n_groups=4, group_size=5
    )
    used = []

    def counting(*args: Any) -> Any:
        out = branch.restrict(*args)
        used.append(len(out))
        return out

    monkeypatch.setattr(core, "restrict", counting)
    reused = clear_document(copy.deepcopy(doc))
    assert used, "the later round did not start from the previous tree"
    monkeypatch.setattr(core, "REUSE_TREE", False)
    afresh = clear_document(copy.deepcopy(doc))
    for result in (reused, afresh):
        assert result["status"] == "optimal", result["reason"]
        assert "paradoxically accepted" in result["reason"]
        assert check_multi_result(doc, result) == []
    assert math.isclose(reused["welfare"], afresh["welfare"], rel_tol=1e-4)
