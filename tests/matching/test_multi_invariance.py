"""The several-interval result depends only on the problem (issue 12): renaming nodes and
lines, flipping lines and listing nodes, lines, grid connections, orders, storage units and
blocks in another order gives the same result under that renaming — with storage and block
orders, on radial and meshed DC networks (docs/clearing.md, "Ties, determinism, trades")."""

from __future__ import annotations

import copy
import json
import math
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multi_reference import check_multi_result
from multi_strategies import multi_problems

from matching import clear_document


def clear(doc: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = clear_document(copy.deepcopy(doc))
    return result


def relabelled(
    doc: dict[str, Any], rnd: random.Random
) -> tuple[dict[str, Any], dict[str, str], dict[str, tuple[str, float]]]:
    """The same problem with nodes and lines renamed, some lines flipped and every list
    shuffled; the node renaming and the line renaming with each line's flow sign."""
    out = copy.deepcopy(doc)
    net = out["network"]
    names = [n["id"] for n in net["nodes"]]
    fresh = [f"X{k}" for k in range(len(names))]
    rnd.shuffle(fresh)
    node_map = dict(zip(names, fresh, strict=True))
    line_map: dict[str, tuple[str, float]] = {}
    for k, ln in enumerate(net["lines"]):
        flip = rnd.random() < 0.5
        line_map[ln["id"]] = (f"M{k}", -1.0 if flip else 1.0)
        a, b = node_map[ln["from"]], node_map[ln["to"]]
        ln["id"] = f"M{k}"
        ln["from"], ln["to"] = (b, a) if flip else (a, b)
    for n in net["nodes"]:
        n["id"] = node_map[n["id"]]
    for g in net.get("grid_connections", []):
        g["node"] = node_map[g["node"]]
    for key in ("orders", "storage", "blocks"):
        for item in out.get(key, []):
            item["node"] = node_map[item["node"]]
    for key in ("nodes", "lines", "grid_connections"):
        if key in net:
            rnd.shuffle(net[key])
    for key in ("orders", "storage", "blocks"):
        if key in out:
            rnd.shuffle(out[key])
    return out, node_map, line_map


def _close(a: Any, b: Any, where: str) -> None:
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), (where, a, b)
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}[{k}]")
    elif a is None or b is None or isinstance(a, (bool, str)):
        assert a == b, (where, a, b)
    else:
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (where, a, b)


def _trade(tr: dict[str, Any], node_map: dict[str, str] | None) -> str:
    t = dict(tr)
    if node_map is not None:
        for k in ("seller_node", "buyer_node"):
            t[k] = node_map[t[k]]
    for k in ("quantity_kwh", "seller_price", "buyer_price"):
        t[k] = round(t[k], 9)
    return json.dumps(t, sort_keys=True)


def assert_same_result(
    first: dict[str, Any],
    second: dict[str, Any],
    node_map: dict[str, str],
    line_map: dict[str, tuple[str, float]],
) -> None:
    assert first["status"] == second["status"], (first["reason"], second["reason"])
    for key in ("welfare", "congestion_rent", "fees"):
        _close(first[key], second[key], key)
    for kind, fields in (
        ("orders", ("accepted_kwh",)),
        ("blocks", ("accepted_ratio", "surplus", "paradoxically_rejected", "rejected_reason")),
        ("storage", ("charge_kwh", "discharge_kwh", "soc_kwh", "profit")),
    ):
        other = {x["id"]: x for x in second[kind]}
        for x in first[kind]:
            for f in fields:
                _close(x[f], other[x["id"]][f], f"{kind} {x['id']} {f}")
    for t, (a, b) in enumerate(zip(first["intervals"], second["intervals"], strict=True)):
        b_nodes = {n["id"]: n for n in b["nodes"]}
        for n in a["nodes"]:
            m = b_nodes[node_map[n["id"]]]
            for k in ("price", "price_low", "price_high"):
                _close(n[k], m[k], f"interval {t} node {n['id']} {k}")
        b_lines = {ln["id"]: ln for ln in b["lines"]}
        for ln in a["lines"]:
            name, sign = line_map[ln["id"]]
            m = b_lines[name]
            _close(ln["flow_kwh"], sign * m["flow_kwh"], f"interval {t} line {ln['id']} flow")
            _close(ln["fee"], m["fee"], f"interval {t} line {ln['id']} fee")
        grid = sorted(
            (node_map[g["node"]], g["import_kwh"], g["export_kwh"]) for g in a["grid_connections"]
        )
        _close(
            [list(g[1:]) for g in grid],
            [
                [g[1], g[2]]
                for g in sorted(
                    (g["node"], g["import_kwh"], g["export_kwh"]) for g in b["grid_connections"]
                )
            ],
            f"interval {t} grid",
        )
        assert sorted(_trade(tr, node_map) for tr in a["trades"]) == sorted(
            _trade(tr, None) for tr in b["trades"]
        ), f"interval {t} trades"


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    multi_problems(max_intervals=4, max_nodes=4, max_orders=10, max_storage=2, max_blocks=3),
    st.randoms(use_true_random=False),
)
def test_invariant_with_storage_and_blocks(doc: dict[str, Any], rnd: random.Random) -> None:
    """Radial and meshed DC networks with fees, storage and blocks: relabelling and
    relisting gives the same acceptances, block decisions and surpluses, storage schedules
    and profits, prices and ranges, flows, fees, grid exchanges and trades."""
    other, node_map, line_map = relabelled(doc, rnd)
    first, second = clear(doc), clear(other)
    assert first["status"] == "optimal", first["reason"]
    assert not check_multi_result(doc, first)
    assert_same_result(first, second, node_map, line_map)
