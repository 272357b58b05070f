"""--time-limit also bounds the tie rule's LP rounds (issue 11, item 5): a limit that runs
out while tied orders are being shared gives `time_limit`, nothing accepted — never a late
answer. The clock is advanced for the tie rule only, so the test does not depend on the
machine's speed."""

from __future__ import annotations

import dataclasses
import time
from types import SimpleNamespace

import pytest
from clearing_strategies import meshed_zero_capacity
from test_clearing_invariance import _transport_with_cycles

import matching.ties as ties
from matching import ClearingProblem, Status, clear


def _needs_rounds(monkeypatch: pytest.MonkeyPatch) -> ClearingProblem:
    """A problem whose ties pro rata cannot settle, so the rule runs its LP rounds."""
    rounds: list[int] = []
    real = ties._check_deadline

    def counting() -> None:
        rounds.append(1)
        real()

    monkeypatch.setattr(ties, "_check_deadline", counting)
    candidates = [_transport_with_cycles(30, seed) for seed in range(6)]
    candidates += [meshed_zero_capacity(40, seed) for seed in range(6)]
    for problem in candidates:
        rounds.clear()
        assert clear(problem).ok
        if rounds:
            monkeypatch.setattr(ties, "_check_deadline", real)
            return problem
    pytest.fail("no generated problem needed the tie rule's LP rounds")


def test_a_time_limit_running_out_in_the_tie_rounds_is_time_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem = _needs_rounds(monkeypatch)
    limited = dataclasses.replace(problem, time_limit_s=1_000.0)
    assert clear(limited).status is Status.OPTIMAL  # the limit alone changes nothing
    # the tie rule's clock jumps past any deadline; the rest of the core keeps real time
    late = SimpleNamespace(perf_counter=lambda: time.perf_counter() + 1e6)
    monkeypatch.setattr(ties, "time", late)
    result = clear(limited)
    assert result.status is Status.TIME_LIMIT, result.reason
    assert "sharing tied orders" in result.reason
    assert not result.accepted_kwh.any()
    # without a limit the rounds run to the end whatever the clock says
    assert clear(problem).status is Status.OPTIMAL
