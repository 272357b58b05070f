"""Scenario files: every shipped one parses; bad input names the field (exit 2 from the
command, nothing run)."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from market.core.errors import ValidationFailed
from market.simulation.scenario import load_scenario, parse_scenario, shipped_scenarios
from web.cli import main


def test_shipped_scenarios_parse() -> None:
    names = shipped_scenarios()
    assert {"founding", "household-pv-500", "battery-2mwh", "powiat-5000"} <= set(names)
    pv = load_scenario("household-pv-500")
    assert pv.add_members[0].count == 500 and pv.add_members[0].pv_kwp == 6
    assert load_scenario("battery-2mwh").storage[0].capacity_kwh == 2000
    assert load_scenario("powiat-5000").base_points == 5000


def test_toml_example() -> None:
    s = load_scenario(str(Path("market/demo/scenarios/example.toml")))
    assert s.lines[0].line == "L-F2-WIES" and s.lines[0].capacity_kw == 8000
    assert s.prices.import_pln_per_kwh == D("0.95") and s.pv_error == D("0.25")
    assert [g.kind for g in s.add_members] == ["household", "business"]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"nmae": "x"}, "nmae"),
        ({"add_members": {"kind": "household"}}, "add_members"),
        ({"add_members": [{"kind": "castle", "count": 1}]}, "add_members[0].kind"),
        ({"add_members": [{"kind": "household", "count": 0}]}, "add_members[0].count"),
        ({"add_members": [{"kind": "household", "count": 2.5}]}, "add_members[0].count"),
        (
            {
                "add_members": [
                    {"kind": "household", "count": 1},
                    {"kind": "business", "count": 1, "pv_kwp": -3},
                ]
            },
            "add_members[1].pv_kwp",
        ),
        (
            {"add_members": [{"kind": "household", "count": 1, "colour": 1}]},
            "add_members[0].colour",
        ),
        ({"storage": [{"capacity_kwh": 100}]}, "storage[0].power_kw"),
        ({"lines": [{"line": "L-X", "capacity_kw": "lots"}]}, "lines[0].capacity_kw"),
        (
            {"prices": {"import_pln_per_kwh": 0.5, "export_pln_per_kwh": 0.6}},
            "prices.export_pln_per_kwh",
        ),
        ({"forecast_error": {"pv": 3}}, "forecast_error.pv"),
        ({"base_points": 5}, "base_points"),
        (
            {"base_points": 19_000, "add_members": [{"kind": "household", "count": 2000}]},
            "add_members",
        ),
    ],
)
def test_bad_scenario_names_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_scenario(doc)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("s.json", '{"name": "x", ', "scenario: not valid JSON"),
        ("s.toml", "name = ", "scenario: not valid TOML"),
        ("s.json", json.dumps({"add_members": [{"kind": "x", "count": 1}]}), "add_members[0].kind"),
    ],
)
def test_command_exits_2_naming_the_field(
    tmp_path: Path, capsys: Any, name: str, text: str, expected: str
) -> None:
    f = tmp_path / name
    f.write_text(text, "utf-8")
    assert main(["simulate", "--from", "2026-06-01", "--scenario", str(f)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_command_bad_range_and_unknown_scenario(capsys: Any) -> None:
    assert main(["simulate", "--from", "2026-13-01"]) == 2
    assert "from:" in capsys.readouterr().err
    assert main(["simulate", "--from", "2026-06-01", "--scenario", "no-such"]) == 2
    assert "scenario:" in capsys.readouterr().err
