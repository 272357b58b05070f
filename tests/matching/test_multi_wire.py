"""The block model reaches GLOP unchanged when it is encoded from arrays
(`matching.multi.wire`) and read back in one response (`WarmLp.solution`): the message
equals the one filled variable by variable, and the bulk read equals the per-variable one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ortools.linear_solver import linear_solver_pb2  # type: ignore[attr-defined]

import matching.multi.clearing as core
from matching.multi.branch import WarmLp
from matching.multi.model import build
from matching.multi.problem import parse
from matching.multi.wire import model_bytes, model_proto, varints
from tests.support.multi_problems import random_multi_problem


def filled_one_by_one(model: Any) -> Any:
    """The message as `WarmLp` first built it: one `add` per variable and per row."""
    proto = linear_solver_pb2.MPModelProto(maximize=True)
    for lo, hi, obj in zip(
        model.lower.tolist(), model.upper.tolist(), model.objective.tolist(), strict=True
    ):
        proto.variable.add(lower_bound=lo, upper_bound=hi, objective_coefficient=obj)
    mat = model.matrix.tocsr()
    ptr, idx, val = mat.indptr.tolist(), mat.indices.tolist(), mat.data.tolist()
    for i, (lo, hi) in enumerate(
        zip(model.row_lower.tolist(), model.row_upper.tolist(), strict=True)
    ):
        proto.constraint.add(
            lower_bound=lo,
            upper_bound=hi,
            var_index=idx[ptr[i] : ptr[i + 1]],
            coefficient=val[ptr[i] : ptr[i + 1]],
        )
    return proto


def block_model(seed: int, n_intervals: int = 6) -> Any:
    doc = random_multi_problem(
        n_intervals, 60, 12, seed=seed, n_storage=3, n_blocks=8, n_groups=1, group_size=3
    )
    problem, _, _ = core.canonical(parse(doc))
    topo = core.topology(problem)
    _, steps = core.order_steps(problem)
    down = core.subtree_matrix(topo)
    red = core.reduce_tree(problem, steps, topo, down)
    return build(problem, steps, topo, None, red)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_encoded_block_model_equals_the_one_filled_call_by_call(seed: int) -> None:
    model = block_model(seed)
    fast = model_proto(model, maximize=True)
    slow = filled_one_by_one(model)
    assert fast == slow
    assert fast.SerializeToString() == slow.SerializeToString()


def test_empty_rows_infinite_bounds_and_minimising() -> None:
    raw = model_bytes(
        np.array([0.0, -np.inf]),
        np.array([1.0, np.inf]),
        np.array([1.0, -2.5]),
        np.array([-np.inf, 0.0, 1.0]),
        np.array([3.0, 0.0, np.inf]),
        np.array([0, 2, 2, 3]),
        np.array([0, 1, 1]),
        np.array([1.0, 2.0, -1.0]),
        maximize=False,
    )
    got = linear_solver_pb2.MPModelProto.FromString(raw)
    want = linear_solver_pb2.MPModelProto(maximize=False)
    want.variable.add(lower_bound=0.0, upper_bound=1.0, objective_coefficient=1.0)
    want.variable.add(lower_bound=-np.inf, upper_bound=np.inf, objective_coefficient=-2.5)
    want.constraint.add(lower_bound=-np.inf, upper_bound=3.0, var_index=[0, 1], coefficient=[1, 2])
    want.constraint.add(lower_bound=0.0, upper_bound=0.0)
    want.constraint.add(lower_bound=1.0, upper_bound=np.inf, var_index=[1], coefficient=[-1])
    assert got == want


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


@given(st.lists(st.integers(0, 2**31 - 1), max_size=40))
def test_varints_are_base_128(values: list[int]) -> None:
    out, size = varints(np.array(values, dtype=np.int64))
    assert out.tobytes() == b"".join(varint(v) for v in values)
    assert size.tolist() == [len(varint(v)) for v in values]


def test_the_bulk_solution_equals_the_per_variable_one() -> None:
    model = block_model(3)
    ycol = model.layout.variable("block_on")
    warm = WarmLp(model, np.arange(ycol.start, ycol.stop, dtype=np.int64))
    n_b = ycol.stop - ycol.start
    assert warm.solve(np.zeros(n_b), np.ones(n_b), None).optimal
    values, duals = warm.solution()
    solver = warm._solver
    assert values.tolist() == [v.solution_value() for v in solver.variables()]
    assert duals.tolist() == [c.dual_value() for c in solver.constraints()]
    assert values.shape[0] == model.lower.shape[0]
    assert duals.shape[0] == model.row_lower.shape[0]
