"""The exact path for small one-node problems (`matching.small`, no numpy, no OR-Tools)
writes the same JSON bytes as `matching.clear` (issue 12: `klaster clear` on a tiny problem
within 0.25 s), and `klaster clear` takes it without importing numpy or OR-Tools."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import clear
from matching.jsonio import dumps, problem_from_dict, result_to_dict
from matching.small import clear_small

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = Path(__file__).parent / "examples"

PRICES = st.one_of(
    st.sampled_from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.89, 0.9]),
    st.integers(0, 1000).map(lambda c: c / 1000),
    st.floats(-1.0, 2.0, allow_nan=False).map(lambda v: round(v, 6)),
)
QUANTITIES = st.one_of(
    st.sampled_from([1, 2, 3, 4, 5, 10, 0.5, 0.25, 1.5, 2.75, 1e-6, 1e6, 1e9]),
    st.integers(1, 100_000).map(lambda c: c / 1000),
    st.floats(1e-6, 1e6, allow_nan=False).map(lambda v: round(v, 9) or 1e-6),
)


@st.composite
def one_node_documents(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 14))
    pool = [
        {"side": draw(st.sampled_from(["buy", "sell"])), "q": draw(QUANTITIES), "p": draw(PRICES)}
        for _ in range(draw(st.integers(1, 6)))
    ]
    orders = []
    for k in range(n):
        base = draw(st.sampled_from(pool))  # repeats: ties and identical orders
        if draw(st.booleans()):
            base = {**base, "q": draw(QUANTITIES)}
        orders.append(
            {
                "id": draw(st.sampled_from(["o", "b", "s", "z", "a-"])) + str(k),
                "node": "A",
                "side": base["side"],
                "quantity_kwh": base["q"],
                "price": base["p"],
            }
        )
    grid = [
        {
            "node": "A",
            "import_price": draw(PRICES),
            "export_price": draw(PRICES),
            "import_limit_kw": draw(st.sampled_from([0, 1, 8, 20, 100, 1e6])),
            "export_limit_kw": draw(st.sampled_from([0, 1, 8, 20, 100, 1e6])),
        }
        for _ in range(draw(st.integers(0, 2)))
    ]
    network: dict[str, Any] = {"nodes": [{"id": "A"}], "lines": []}
    if grid or draw(st.booleans()):
        network["grid_connections"] = grid
    return {
        "interval": {
            "start": "2026-06-15T12:00:00+02:00",
            "minutes": draw(st.sampled_from([15, 60])),
        },
        "network": network,
        "orders": orders,
    }


def full_path(doc: dict[str, Any]) -> bytes:
    problem = problem_from_dict(doc)
    return dumps(result_to_dict(problem, clear(problem), timings=False, source=doc))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(one_node_documents())
def test_small_path_writes_the_same_bytes(doc: dict[str, Any]) -> None:
    small = clear_small(doc, timings=False)
    if small is not None:
        assert dumps(small) == full_path(doc)


def test_small_path_is_taken_for_the_one_node_examples() -> None:
    for name in ("01-single-node-merit-order", "04-tie-pro-rata", "05-price-range"):
        doc = json.loads((EXAMPLES / f"{name}.json").read_text())
        small = clear_small(doc, timings=False)
        assert small is not None, name
        assert dumps(small) == full_path(doc), name


def _random_document(rnd: random.Random) -> dict[str, Any]:
    orders = [
        {
            "id": f"o{k}",
            "node": "A",
            "side": rnd.choice(["buy", "sell"]),
            "quantity_kwh": rnd.choice([1, 2.5, 4, 10, 0.125]),
            "price": rnd.choice([0.2, 0.4, 0.5, 0.6, 0.8]),
        }
        for k in range(rnd.randint(2, 30))
    ]
    grid = [{"node": "A", "import_price": 0.89, "export_price": 0.3, "import_limit_kw": 8,
             "export_limit_kw": 8}] if rnd.random() < 0.5 else []  # fmt: skip
    network = {"nodes": [{"id": "A"}], "lines": [], "grid_connections": grid}
    return {"interval": {"start": "2026-06-15T12:00:00Z"}, "network": network, "orders": orders}


def test_small_path_takes_plain_one_node_problems() -> None:
    """The property above is not vacuous: plain one-node problems take the path."""
    rnd = random.Random(5)
    for _ in range(40):
        doc = _random_document(rnd)
        small = clear_small(doc, timings=False)
        assert small is not None
        assert dumps(small) == full_path(doc)


PROBE = """
import sys
from web.cli import main
rc = main(["clear", sys.argv[1], "-o", sys.argv[2], "--no-timings"])
heavy = {"numpy", "ortools", "scipy", "sqlalchemy", "litestar", "jinja2"}
heavy = sorted({m.split(".")[0] for m in sys.modules} & heavy)
print(rc, " ".join(heavy))
"""


def test_klaster_clear_on_a_tiny_problem_imports_no_numpy(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(EXAMPLES / "01-single-node-merit-order.json"), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    rc, *heavy = proc.stdout.split()
    assert (rc, heavy) == ("0", [])
    doc = json.loads((EXAMPLES / "01-single-node-merit-order.json").read_text())
    assert out.read_bytes() == full_path(doc)


def test_small_path_uses_the_cores_numbers() -> None:
    """The exact path repeats the core's tolerances (it may not import the core): they must
    not drift apart."""
    from matching import canonical, checks, jsonio, small, solve, transfers

    assert small.SNAP_KWH == solve.SNAP_KWH
    assert small.TIE == canonical.TIE
    assert small.DUST_KWH == transfers.DUST_KWH
    assert (small.FEASIBILITY_KWH, small.RELATIVE, small.PRICE_TOL) == (
        checks.FEASIBILITY_KWH,
        checks.RELATIVE,
        checks.PRICE_TOL,
    )
    assert small.DIGITS == jsonio.DIGITS
