"""When the tie rule cannot be applied (numerical trouble, never seen in the tests), the
result is `error` with the reason and nothing accepted — no silent fallback to the solver's
allocation or to another routing (issue 11). The trouble is simulated."""

from __future__ import annotations

import pytest
from test_clearing_invariance import GENERATORS

from matching import Status, clear


@pytest.mark.parametrize(
    ("kind", "n_nodes", "seed"), [("meshed-dc", 30, 2), ("transport-cycles", 30, 2)]
)
def test_leximin_trouble_is_an_error(
    monkeypatch: pytest.MonkeyPatch, kind: str, n_nodes: int, seed: int
) -> None:
    problem = GENERATORS[kind](n_nodes, seed)
    assert "leximin" in clear(problem).reason  # the case needs the rule's LPs
    monkeypatch.setattr("matching.canonical.leximin", lambda *_: None)
    r = clear(problem)
    assert r.status is Status.ERROR
    assert "tie rule not applied: an LP of the tie rule did not end optimal" in r.reason
    assert not r.accepted_kwh.any() and len(r.trades) == 0


def test_flow_trouble_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = GENERATORS["transport-cycles"](30, 2)
    monkeypatch.setattr("matching.canonical.least_squares_flow", lambda *_: None)
    r = clear(problem)
    assert r.status is Status.ERROR
    assert "least-Σf² flow within the limits did not settle" in r.reason


def test_a_round_without_a_blocking_dual_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Progressive filling freezes only what the face implies; if float trouble hid every
    blocking dual of a round, the rule is not applied (no guessed freeze)."""
    import matching.ties as ties

    problem = GENERATORS["meshed-dc"](30, 2)
    monkeypatch.setattr(ties, "DUAL_TOL", float("inf"))
    r = clear(problem)
    assert r.status is Status.ERROR
    assert "tie rule not applied" in r.reason
