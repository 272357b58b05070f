"""Dependencies point one way: web → market → matching."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "matching": {"market", "web"},
    "market": {"web"},
    # the web layer talks to market only (the CLI dispatcher names modules as strings)
    "web": {"matching"},
}


def imported_packages(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependencies_point_one_way(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    for path in files:
        bad = imported_packages(path) & FORBIDDEN[package]
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_tests_never_import_bench() -> None:
    """bench may import tests/support; no test module imports bench."""
    files = sorted((ROOT / "tests").rglob("*.py"))
    assert files
    for path in files:
        assert "bench" not in imported_packages(path), f"{path.relative_to(ROOT)} imports bench"
