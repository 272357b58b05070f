"""The hand-checkable several-interval examples (tests/matching/examples/multi/, worked out
in its README.md): exact figures, and every rule of the reference checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from multi_reference import check_multi_result, reference_block_rule, reference_result

import matching

EXAMPLES = Path(__file__).parent / "examples" / "multi"
clear_document = getattr(matching, "clear_document", None)
needs_core = pytest.mark.skipif(
    clear_document is None,
    reason="matching.clear_document (issue 12, the several-interval core) is not merged yet",
)


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data


def solved(name: str) -> dict[str, Any]:
    assert clear_document is not None
    result: dict[str, Any] = clear_document(load(name))
    assert result["status"] == "optimal", result.get("reason")
    assert check_multi_result(load(name), result) == []
    return result


def accepted(result: dict[str, Any]) -> dict[str, float]:
    return {o["id"]: o["accepted_kwh"] for o in result["orders"]}


def prices(result: dict[str, Any]) -> list[dict[str, float]]:
    return [{n["id"]: n["price"] for n in iv["nodes"]} for iv in result["intervals"]]


def trades(result: dict[str, Any], t: int) -> dict[tuple[Any, Any], float]:
    out: dict[tuple[Any, Any], float] = {}
    for tr in result["intervals"][t]["trades"]:
        key = (tr["seller"], tr["buyer"])
        out[key] = out.get(key, 0.0) + tr["quantity_kwh"]
    return out


A = pytest.approx


@needs_core
def test_battery_charges_at_noon_and_discharges_in_the_evening() -> None:
    r = solved("07-battery-noon-evening")
    assert r["welfare"] == A(5.5, abs=1e-9)
    assert accepted(r) == A({"pv": 9, "load0": 4, "load1": 6, "gas": 2}, abs=1e-9)
    assert prices(r) == [{"A": A(0.1, abs=1e-9)}, {"A": A(0.7, abs=1e-9)}]
    (bat,) = r["storage"]
    assert bat["charge_kwh"] == A([5, 0], abs=1e-9)
    assert bat["discharge_kwh"] == A([0, 4], abs=1e-9)
    assert bat["soc_kwh"] == A([5, 0], abs=1e-9)
    assert bat["profit"] == A(2.3, abs=1e-9)
    assert r["congestion_rent"] == A(0, abs=1e-9) and r["fees"] == A(0, abs=1e-9)
    assert trades(r, 0) == A({("pv", "load0"): 4, ("pv", "bat"): 5}, abs=1e-9)
    assert trades(r, 1) == A({("bat", "load1"): 4, ("gas", "load1"): 2}, abs=1e-9)
    kinds = {(t["seller_kind"], t["buyer_kind"]) for iv in r["intervals"] for t in iv["trades"]}
    assert kinds == {("order", "order"), ("order", "storage"), ("storage", "order")}


@needs_core
def test_block_rejected_paradoxically() -> None:
    r = solved("08-block-rejected-paradoxically")
    assert r["welfare"] == A(1.8, abs=1e-9)
    assert accepted(r) == A({"b1": 6, "b2": 0, "s1": 6}, abs=1e-9)
    assert prices(r) == [{"A": A(0.5, abs=1e-9)}]
    assert r["blocks"] == [
        {
            "id": "B",
            "accepted_ratio": 0.0,
            "surplus": A(1.0, abs=1e-9),
            "paradoxically_rejected": True,
            "rejected_reason": "paradoxically_rejected",
        }
    ]
    assert trades(r, 0) == A({("s1", "b1"): 6}, abs=1e-9)


@needs_core
def test_fee_splits_two_prices() -> None:
    r = solved("09-fee-splits-two-prices")
    assert r["welfare"] == A(3.3, abs=1e-9)
    assert accepted(r) == A({"sA": 6, "bB": 6, "sB": 0}, abs=1e-9)
    assert prices(r) == [{"A": A(0.3, abs=1e-9), "B": A(0.35, abs=1e-9)}]
    assert r["intervals"][0]["lines"] == [
        {"id": "AB", "flow_kwh": A(6, abs=1e-9), "fee": A(0.3, abs=1e-9)}
    ]
    assert r["fees"] == A(0.3, abs=1e-9)
    assert r["congestion_rent"] == A(0, abs=1e-9)
    (t,) = r["intervals"][0]["trades"]
    assert (t["seller"], t["buyer"], t["quantity_kwh"]) == ("sA", "bB", A(6, abs=1e-9))
    assert (t["seller_price"], t["buyer_price"]) == (A(0.3, abs=1e-9), A(0.35, abs=1e-9))


def test_the_reference_agrees_with_the_hand_figures() -> None:
    """The independent reference reaches the README's figures too (runs without the core)."""
    bat = reference_result(load("07-battery-noon-evening"))
    assert bat["welfare"] == A(5.5, abs=1e-9)
    assert bat["storage"][0]["charge_kwh"] == A([5, 0], abs=1e-9)
    assert bat["storage"][0]["discharge_kwh"] == A([0, 4], abs=1e-9)
    assert [iv["nodes"][0]["price"] for iv in bat["intervals"]] == A([0.1, 0.7], abs=1e-9)
    rule = reference_block_rule(load("08-block-rejected-paradoxically"))
    assert rule.mip_welfare == A(2.0, abs=1e-9)
    assert rule.welfare == A(1.8, abs=1e-9) and rule.excluded == [0]
    assert rule.prices.tolist() == [[A(0.5, abs=1e-9)]]
    fee = reference_result(load("09-fee-splits-two-prices"))
    assert fee["welfare"] == A(3.3, abs=1e-9) and fee["fees"] == A(0.3, abs=1e-9)
    assert [n["price"] for n in fee["intervals"][0]["nodes"]] == A([0.3, 0.35], abs=1e-9)


def _schema(name: str) -> dict[str, Any]:
    path = Path(__file__).resolve().parents[2] / "docs" / "schema" / f"{name}.schema.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@needs_core
@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_examples_and_results_match_the_schemas(path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    problem_schema = _schema("problem")
    if "intervals" not in json.dumps(problem_schema):
        pytest.skip("docs/schema does not describe the several-interval form yet")
    data = json.loads(path.read_text())
    jsonschema.validate(data, problem_schema)
    assert clear_document is not None
    jsonschema.validate(clear_document(data), _schema("result"))
