"""The outside checker's fast, deterministic subset (issue 12): random several-interval
problems of every shape the campaign draws (`tests/matching/outside_multi/campaign.py`),
each checked against an independent scipy (HiGHS) reference and every rule of the issue read
from the result JSON, plus the minimised cases the campaign found and bad input."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import matching
from tests.matching.outside_multi.campaign import run_one
from tests.matching.outside_multi.checks import check
from tests.matching.outside_multi.generate import SHAPES, random_problem

CASES = Path(__file__).parent / "outside_multi" / "cases"

# (shape, seeds): every shape, the large ones (24-100 intervals, hundreds of orders) once
FAST = [
    ("radial", range(6)),
    ("radial-fees", range(6)),
    ("radial-storage", range(6)),
    ("meshed-dc", range(6)),
    ("meshed-dc-fees", range(6)),
    ("meshed-dc-storage", range(6)),
    ("meshed-transport", range(6)),
    ("blocks", range(6)),
    ("blocks-storage", range(6)),
    ("blocks-meshed", range(4)),
    ("no-grid", range(6)),
    ("large-radial", [0, 1]),
    ("large-meshed", [0]),
    ("large-blocks", [0]),
]


@pytest.mark.parametrize(("shape", "seed"), [(s, k) for s, seeds in FAST for k in seeds])
def test_random_problem_keeps_every_rule(shape: str, seed: int) -> None:
    assert run_one(shape, seed) == []


def _clear(problem: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(matching.clear_document(copy.deepcopy(problem))))
    return out


def test_a_lossy_unit_beside_a_gain_cycle_gets_prices() -> None:
    """Found by the campaign (radial-storage, seed 0): one node, 19 hours, a unit with
    efficiencies 1 / 0.7. The ranges' closure stopped 1e-9 short of its limit, a target fell
    below every optimal point and the chosen prices' closure ran to −∞: `error`, "the
    storage values' constraints do not settle"."""
    problem = json.loads((CASES / "storage-values-do-not-settle.json").read_text())
    result = _clear(problem)
    assert check(problem, result) == []


def test_glop_abnormal_on_a_meshed_dc_network_is_solved_without_presolve() -> None:
    """Found by the campaign (meshed-dc, seed 113), minimised: one hour, five nodes, a
    zero-capacity line beside a 1e6 kW one, three orders that cannot trade. GLOP ended
    "abnormal" with each of the three set-ups the several-interval LP tried: `error`."""
    problem = json.loads((CASES / "glop-abnormal-meshed-dc.json").read_text())
    result = _clear(problem)
    assert check(problem, result) == []


def test_a_hundred_interval_meshed_dc_day_gets_its_price_ranges() -> None:
    """Found by the campaign (large-meshed, seed 19: 100 quarter-hours, 14 nodes, 19 lines
    with reactances, 316 orders, a unit): the LP's rows held only with the fourth GLOP
    set-up, then a warm re-solve of the DC rule's range LPs ended abnormal: `error`."""
    problem = json.loads((CASES / "meshed-dc-price-range-lp.json").read_text())
    assert check(problem, _clear(problem)) == []


def test_a_feasible_meshed_dc_day_is_never_called_infeasible() -> None:
    """Found by the campaign (large-meshed, seed 27: 100 quarter-hours, no storage, no
    blocks, so accepting nothing is feasible): GLOP's first "infeasible" was the answer."""
    problem = json.loads((CASES / "open-meshed-dc-called-infeasible.json").read_text())
    assert _clear(problem)["status"] != "infeasible"


def test_a_feasible_meshed_dc_day_gets_prices() -> None:
    """The same day: the meshed-DC price rule's range LP ended ABNORMAL with every GLOP
    set-up (`error`); HiGHS is the range LPs' last resort (only their value is read)."""
    problem = json.loads((CASES / "open-meshed-dc-called-infeasible.json").read_text())
    assert check(problem, _clear(problem)) == []


def test_a_stalling_re_solve_gives_way_to_the_next_set_up() -> None:
    """Found by the campaign (large-meshed, seed 7: 92 quarter-hours, meshed DC): the first
    solve's rows did not hold, and the strict dual simplex then ran for minutes. The dual
    simplex without presolve now re-solves first, and each re-solve stops after
    `RESOLVE_ITERATIONS` per column and row: under a second, every rule."""
    problem = json.loads((CASES / "open-meshed-dc-92-stall.json").read_text())
    assert check(problem, _clear(problem)) == []


# the campaign's failures before their fixes, as found (shape, seed)
FOUND = [
    ("meshed-dc", 113),
    ("meshed-dc", 196),
    ("meshed-dc-storage", 131),
    ("radial-storage", 0),
    ("radial-storage", 302),
    ("large-meshed", 7025),  # the price rule's feasibility LP ended ABNORMAL (lead)
]


@pytest.mark.parametrize(("shape", "seed"), FOUND)
def test_found_by_the_campaign(shape: str, seed: int) -> None:
    assert run_one(shape, seed) == []


def test_a_unit_charging_and_discharging_at_once_gets_prices() -> None:
    """Found by the campaign (large-radial, seed 5: 48 quarter-hours, 40 nodes, 388
    orders, two units; radial-storage, seed 302, minimised: one node, two quarter-hours, a
    seller at −0.2 and two 1 Wh units that burn its energy by charging and discharging at
    once). Where the face is one point a converging and a diverging cycle of the storage
    rule meet, and one ulp of overshoot ran the least point to +∞: `error`, "the optimal
    price ranges came out empty" / "do not settle"."""
    problem = json.loads((CASES / "storage-ranges-empty.json").read_text())
    assert check(problem, _clear(problem)) == []
    assert run_one("large-radial", 5, invariance=False) == []


def test_klaster_clear_answers_as_clear_document(tmp_path: Path) -> None:
    """`klaster clear` on a 96- or 100-interval random problem with blocks and storage: the
    same JSON as `matching.clear_document` (apart from timings), keeping every rule; bad
    input exits 2 with one line naming the field."""
    problem = random_problem(3, SHAPES["large-blocks"])  # 96 intervals, 3 units, 13 blocks
    path = tmp_path / "p.json"
    path.write_text(json.dumps(problem))
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, "-m", "web.cli", "clear", str(path), "--no-timings"],
        capture_output=True, text=True, timeout=300, cwd=root,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert check(problem, {**result, "timings": {}}) == []  # --no-timings drops them
    direct = _clear(problem)
    assert {k: v for k, v in direct.items() if k != "timings"} == result
    problem["storage"] = [dict(problem.get("storage", [{}])[0], efficiency_charge=1.5)]
    path.write_text(json.dumps(problem))
    run = subprocess.run(
        [sys.executable, "-m", "web.cli", "clear", str(path)],
        capture_output=True, text=True, timeout=300, cwd=root,
    )  # fmt: skip
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "storage[0].efficiency_charge: " in lines[0], run.stderr


BAD = [
    ("orders.0.quantity_kwh", 0, "orders[0].quantity_kwh"),
    ("orders.0.interval", 100, "orders[0].interval"),
    ("blocks.0.quantities_kwh", [0, 0], "blocks[0].quantities_kwh"),
    ("blocks.0.first_interval", 99, "blocks[0]"),
    ("blocks.0.min_acceptance_ratio", -0.5, "blocks[0].min_acceptance_ratio"),
    ("storage.0.efficiency_discharge", 0, "storage[0].efficiency_discharge"),
    ("storage.0.efficiency_charge", 1.0000001, "storage[0].efficiency_charge"),
    ("storage.0.soc_initial_kwh", 10.5, "storage[0].soc_initial_kwh"),
    ("storage.0.soc_final_min_kwh", 10.5, "storage[0].soc_final_min_kwh"),
    ("network.grid_connections.0.export_price", [0.1] * 99, "network.grid_connections[0]"),
    ("network.grid_connections.0.export_limit_kw", [1] * 101, "network.grid_connections[0]"),
    ("network.lines.0.fee_per_kwh", -0.01, "network.lines[0].fee_per_kwh"),
    ("intervals.50.minutes", 30, "intervals[50]"),
    ("intervals.99.start", "2026-06-16T00:45:00+00:00", "intervals[99]"),
]


def _base() -> dict[str, Any]:
    """100 quarter-hours (the autumn DST day), two nodes, a unit and a block."""
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    return {
        "intervals": [
            {"start": (t0 + timedelta(minutes=15 * k)).isoformat(), "minutes": 15}
            for k in range(100)
        ],
        "network": {
            "nodes": [{"id": "A"}, {"id": "B"}],
            "lines": [{"id": "L", "from": "A", "to": "B", "capacity_kw": 8, "fee_per_kwh": 0.02}],
            "grid_connections": [
                {
                    "node": "A",
                    "import_price": [0.9 if 68 <= k < 84 else 0.5 for k in range(100)],
                    "export_price": 0.1,
                    "import_limit_kw": 40,
                    "export_limit_kw": 40,
                }
            ],
        },
        "orders": [
            {
                "id": f"o{k}",
                "node": "B",
                "side": "buy",
                "quantity_kwh": 1.5,
                "price": 0.95,
                "interval": k,
            }
            for k in range(100)
        ],
        "storage": [
            {
                "id": "bat",
                "node": "B",
                "energy_kwh": 10,
                "soc_initial_kwh": 2,
                "charge_kw": 4,
                "discharge_kw": 4,
                "efficiency_charge": 0.95,
                "efficiency_discharge": 0.95,
                "cost_per_kwh": 0.01,
            }
        ],
        "blocks": [
            {
                "id": "pump",
                "node": "B",
                "side": "buy",
                "price": 0.8,
                "first_interval": 98,
                "quantities_kwh": [2, 2],
                "min_acceptance_ratio": 0.5,
                "group": "g",
            }
        ],
    }


def test_the_hundred_interval_base_problem_keeps_every_rule() -> None:
    problem = _base()
    assert check(problem, _clear(problem)) == []


def test_a_final_state_just_reachable_is_accepted() -> None:
    """soc_initial + η_c × charge_kw·h × intervals, capped by energy_kwh, is reachable."""
    problem = _base()
    unit = problem["storage"][0]
    unit.update(energy_kwh=1000, charge_kw=0.1, soc_final_min_kwh=2 + 0.95 * 0.1 * 0.25 * 100)
    result = _clear(problem)
    assert check(problem, result) == []
    assert result["storage"][0]["soc_kwh"][-1] >= unit["soc_final_min_kwh"] - 1e-6


@pytest.mark.parametrize(("path", "value", "field"), BAD)
def test_bad_input_names_the_field(path: str, value: Any, field: str) -> None:
    problem = _base()
    target: Any = problem
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    target[int(keys[-1]) if keys[-1].isdigit() else keys[-1]] = value
    with pytest.raises(matching.ProblemError) as err:
        matching.clear_document(problem)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(field), message


def test_shapes_are_all_sampled() -> None:
    assert {s for s, _ in FAST} == set(SHAPES)
    assert random_problem(0, SHAPES["radial"]) == random_problem(0, SHAPES["radial"])
