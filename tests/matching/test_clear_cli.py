"""`klaster clear`: JSON in and out, exit 2 with one line naming the field on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent / "examples"


def klaster(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )


def base() -> dict:
    return json.loads((EXAMPLES / "02-congested-line-two-prices.json").read_text())


def test_clear_writes_result_file(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    proc = klaster("clear", str(EXAMPLES / "02-congested-line-two-prices.json"), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert [n["price"] for n in result["nodes"]] == [0.3, 0.7]
    assert set(result["timings"]) >= {"build_ms", "solve_ms", "total_ms"}
    assert result["status"] == "optimal"


def test_no_timings_output_is_byte_identical() -> None:
    path = str(EXAMPLES / "06-meshed-dc-flow.json")
    first = klaster("clear", path, "--no-timings")
    second = klaster("clear", path, "--no-timings")
    assert first.returncode == 0 and first.stdout == second.stdout
    assert "timings" not in json.loads(first.stdout)


def _mutate(path: str, value: object) -> dict:
    data = base()
    target = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is KeyError:
        del target[last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return data


CASES = [
    ("orders.0.node", "Z", "orders[0].node", "unknown node"),
    ("orders.1.id", "s1", "orders[1].id", "duplicate order id"),
    ("orders.0.quantity_kwh", -1, "orders[0].quantity_kwh", "greater than 0"),
    ("orders.0.quantity_kwh", 0, "orders[0].quantity_kwh", "greater than 0"),
    ("orders.0.price", "cheap", "orders[0].price", "must be a number"),
    ("orders.0.side", "hold", "orders[0].side", "'buy' or 'sell'"),
    ("orders.0.price", KeyError, "orders[0].price", "is missing"),
    ("network.lines.0.to", "A", "network.lines[0].to", "to itself"),
    ("network.lines.0.from", "Q", "network.lines[0].from", "unknown node"),
    ("network.lines.0.capacity_kw", -5, "network.lines[0].capacity_kw", "0 or more"),
    ("interval.start", "yesterday", "interval.start", "ISO 8601"),
    ("interval.minutes", 0, "interval.minutes", "positive"),
]


@pytest.mark.parametrize(("path", "value", "field", "hint"), CASES)
def test_bad_input_exits_2_naming_the_field(
    path: str, value: object, field: str, hint: str
) -> None:
    proc = klaster("clear", "-", stdin=json.dumps(_mutate(path, value)))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert field in lines[0] and hint in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_nan_quantity_is_rejected() -> None:
    text = json.dumps(base()).replace('"quantity_kwh": 10', '"quantity_kwh": NaN', 1)
    proc = klaster("clear", "-", stdin=text)
    assert proc.returncode == 2
    assert "orders[0].quantity_kwh" in proc.stderr and "finite" in proc.stderr


def test_node_not_connected_to_anything() -> None:
    data = base()
    data["network"]["nodes"].append({"id": "C"})
    proc = klaster("clear", "-", stdin=json.dumps(data))
    assert proc.returncode == 2
    assert "network.nodes[2].id" in proc.stderr and "not connected" in proc.stderr


def test_duplicate_node_and_missing_file_and_malformed_json(tmp_path: Path) -> None:
    data = base()
    data["network"]["nodes"].append({"id": "A"})
    proc = klaster("clear", "-", stdin=json.dumps(data))
    assert proc.returncode == 2 and "duplicate node id" in proc.stderr
    proc = klaster("clear", str(tmp_path / "nope.json"))
    assert proc.returncode == 2 and "not found" in proc.stderr
    proc = klaster("clear", "-", stdin='{"interval": {')
    assert proc.returncode == 2 and "malformed JSON at line 1" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_usage_errors_exit_2() -> None:
    assert klaster("clear").returncode == 2
    assert klaster("no-such-command").returncode == 2


def test_integer_ids_are_repeated_as_given() -> None:
    data = {
        "interval": {"start": "2026-06-15T12:00:00Z", "minutes": 15},
        "network": {
            "nodes": [{"id": 1}, {"id": 2}],
            "lines": [{"id": 10, "from": 1, "to": 2, "capacity_kw": 8}],
            "grid_connections": [
                {
                    "node": 1,
                    "import_price": 0.89,
                    "export_price": 0.3,
                    "import_limit_kw": 0,
                    "export_limit_kw": 0,
                }
            ],
        },
        "orders": [
            {"id": 100, "node": 1, "side": "sell", "quantity_kwh": 10, "price": 0.3},
            {"id": 101, "node": 2, "side": "buy", "quantity_kwh": 6, "price": 0.9},
        ],
    }
    proc = klaster("clear", "-", stdin=json.dumps(data))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [o["id"] for o in out["orders"]] == [100, 101]
    assert [n["id"] for n in out["nodes"]] == [1, 2]
    assert out["lines"][0] == {"id": 10, "flow_kwh": 2.0, "limit_kwh": 2.0, "congested": True}
    assert out["grid_connections"][0]["node"] == 1
    assert {(t["seller"], t["buyer"], t["seller_node"]) for t in out["trades"]} == {(100, 101, 1)}


def test_start_without_offset_is_read_as_utc() -> None:
    data = base()
    data["interval"]["start"] = "2026-06-15T10:00:00"
    proc = klaster("clear", "-", stdin=json.dumps(data))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["interval"]["start"] == "2026-06-15T10:00:00+00:00"


def test_two_grid_connections_at_one_node_and_export_above_import() -> None:
    data = json.loads((EXAMPLES / "03-grid-connection.json").read_text())
    conn = data["network"]["grid_connections"][0]
    data["network"]["grid_connections"].append(
        conn
        | {"import_price": 0.5, "export_price": 0.6, "import_limit_kw": 4, "export_limit_kw": 4}
    )
    proc = klaster("clear", "-", stdin=json.dumps(data))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    # the cheaper second connection (0.5, 1 kWh) is used first; the first stays marginal at
    # 0.89, above the second's export price, so nothing is exported
    assert out["grid_connections"][1] == {"node": "A", "import_kwh": 1.0, "export_kwh": 0.0}
    assert out["grid_connections"][0]["import_kwh"] == 6.0
    assert out["nodes"][0]["price"] == 0.89


def _one_line_exit_2(proc: subprocess.CompletedProcess[str], field: str, hint: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-300:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr[-500:]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert field in lines[0] and hint in lines[0], lines[0][:300]


BIG = "9" * 400


@pytest.mark.parametrize(
    ("old", "new", "field", "hint"),
    [
        ('"side": "sell"', '"side": ["sell"]', "orders[0].side", "'buy' or 'sell'"),
        ('"minutes": 15', f'"minutes": {BIG}', "interval.minutes", "positive whole number"),
        ('"quantity_kwh": 10', f'"quantity_kwh": {BIG}', "orders[0].quantity_kwh", "finite"),
        ('"price": 0.3', f'"price": {BIG}', "orders[0].price", "finite"),
        ('"capacity_kw": 8', f'"capacity_kw": {BIG}', "network.lines[0].capacity_kw", "finite"),
        ('"quantity_kwh": 10', f'"quantity_kwh": {"9" * 5000}', "orders[0].quantity_kwh", ""),
        ('"id": "s1"', '"id": "\\ud800"', "orders[0].id", "lone surrogate"),
        ('"id": "A"', '"id": "\\udfff"', "network.nodes[0].id", "lone surrogate"),
        (
            '"capacity_kw": 8',
            '"capacity_kw": 8, "reactence": 1',
            "network.lines[0].reactence",
            "unknown field",
        ),
        ('"side": "sell"', '"side": "sell", "limit": 1', "orders[0].limit", "unknown field"),
        ('"minutes": 15', '"minutes": 15, "end": 1', "interval.end", "unknown field"),
    ],
)
def test_bad_input_from_the_verifier_exits_2(old: str, new: str, field: str, hint: str) -> None:
    text = json.dumps(base())
    assert old in text, old
    proc = klaster("clear", "-", stdin=text.replace(old, new, 1))
    _one_line_exit_2(proc, field, hint)


def test_deeply_nested_json_exits_2() -> None:
    text = json.dumps(base()).replace('"side": "sell"', '"side": ' + "[" * 3000 + "]" * 3000, 1)
    _one_line_exit_2(klaster("clear", "-", stdin=text), "problem", "nested too deeply")
    text = "[" * 100_000 + "]" * 100_000
    _one_line_exit_2(klaster("clear", "-", stdin=text), "problem", "")


def test_empty_nodes_names_the_nodes() -> None:
    data = base()
    data["network"]["nodes"] = []
    _one_line_exit_2(klaster("clear", "-", stdin=json.dumps(data)), "network.nodes", "at least")


def test_integer_ids_beyond_64_bits_are_accepted_and_repeated() -> None:
    data = base()
    big = 2**64 + 1
    huge = 10**60 + 7
    data["orders"][0]["id"] = big
    data["network"]["nodes"][0]["id"] = huge
    for ln in data["network"]["lines"]:
        for end in ("from", "to"):
            if ln[end] == "A":
                ln[end] = huge
    for o in data["orders"]:
        if o["node"] == "A":
            o["node"] = huge
    for g in data["network"].get("grid_connections", []):
        if g["node"] == "A":
            g["node"] = huge
    proc = klaster("clear", "-", stdin=json.dumps(data))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["orders"][0]["id"] == big and out["nodes"][0]["id"] == huge
    assert out["flow_model"] == "transport"
    assert any(t["seller"] == big for t in out["trades"])


def test_float_id_is_refused() -> None:
    text = json.dumps(base()).replace('"id": "s1"', '"id": 1.5', 1)
    _one_line_exit_2(klaster("clear", "-", stdin=text), "orders[0].id", "string or an integer")


def test_result_says_which_flow_model() -> None:
    proc = klaster("clear", str(EXAMPLES / "06-meshed-dc-flow.json"))
    assert json.loads(proc.stdout)["flow_model"] == "dc"
    proc = klaster("clear", str(EXAMPLES / "02-congested-line-two-prices.json"))
    assert json.loads(proc.stdout)["flow_model"] == "transport"


def test_time_limit_bounds_the_whole_command(tmp_path: Path) -> None:
    """--time-limit covers reading, building, solving and writing (not only GLOP): a
    problem that takes ~2 s of CPU end to end stops within the limit plus interpreter
    start-up. Counted in the child's CPU seconds, not wall time, so a machine busy with
    other work (where a process waits for a core) can't fail it: a command stopped after
    1 s of wall clock never used more than 1 s of CPU after its start-up."""
    import resource

    import orjson

    from matching.jsonio import problem_to_dict
    from tests.support.problems import random_problem

    def child_cpu() -> float:
        u = resource.getrusage(resource.RUSAGE_CHILDREN)
        return u.ru_utime + u.ru_stime

    big = tmp_path / "big.json"
    big.write_bytes(orjson.dumps(problem_to_dict(random_problem(150_000, 1_500, seed=2))))
    small = EXAMPLES / "01-single-node-merit-order.json"
    c0 = child_cpu()
    assert klaster("clear", str(small), "-o", str(tmp_path / "s.json")).returncode == 0
    start_up = child_cpu() - c0
    c0 = child_cpu()
    proc = klaster("clear", str(big), "--time-limit", "1.0", "-o", str(tmp_path / "b.json"))
    used = child_cpu() - c0
    assert proc.returncode == 1, proc.stderr
    assert json.loads((tmp_path / "b.json").read_text())["status"] == "time_limit"
    assert used <= start_up + 1.0 + 0.6, (used, start_up)
