"""The architecture, kept visible: no import cycles between modules of `market/` and `web/`,
and every package imports only packages below it in its layer order (web → market →
matching; inside each, the order below). Imports under `if TYPE_CHECKING:` are ignored."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Lowest first; a package may import itself and anything listed before it.
LAYERS = [
    "matching",
    "market.core",
    "market.db",
    "market.cluster",
    "market.access",
    "market.network",
    "market.members",
    "market.metering",
    "market.prices",
    "market.trading",
    "market.clearing",
    "market.settlement",
    "market.statutory",
    "market.export",
    "market.reports",
    "market.demo",
    "market.simulation",
    "market.schema",
    "market.commands",
    "web.ui",
    "web.resilience",
    "web.ratelimit",
    "web.background",
    "web.config",
    "web.auth",
    "web.deps",
    "web.errors",
    "web.input_guard",
    "web.live",
    "web.api",
    "web.pages",
    "web.ops",
    "web.routes",
    "web.app",
    "web.commands",
    "web.cli",
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    module_name(p): p for top in ("matching", "market", "web") for p in (ROOT / top).rglob("*.py")
}


def imports_of(path: Path) -> set[str]:
    """Modules of this repository imported by `path` (at any depth, outside TYPE_CHECKING)."""
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", "")
            if name == "TYPE_CHECKING":
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(a.name for a in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level == 0 and node.module:
                # `from pkg import sub` imports the submodule `pkg.sub`, and `pkg` only when
                # some name is not a submodule (then the package's __init__ is what is used)
                subs = {f"{node.module}.{a.name}" for a in node.names}
                found.update(subs & MODULES.keys())
                if subs - MODULES.keys():
                    found.add(node.module)

    Visitor().visit(ast.parse(path.read_text(), filename=str(path)))
    return {m for m in found if m in MODULES and m != module_name(path)}


def layer_of(module: str) -> int:
    best = -1
    for i, layer in enumerate(LAYERS):
        if (module == layer or module.startswith(layer + ".")) and (
            best < 0 or len(layer) > len(LAYERS[best])
        ):
            best = i
    assert best >= 0, f"{module} belongs to no layer; add its package to LAYERS"
    return best


GRAPH = {m: imports_of(p) for m, p in MODULES.items()}


def test_every_package_has_a_layer() -> None:
    for module in MODULES:
        if module not in ("market", "web", "matching"):
            layer_of(module)


@pytest.mark.parametrize("top", ["matching", "market", "web"])
def test_nothing_imports_upward(top: str) -> None:
    upward = [
        f"{m} ({LAYERS[layer_of(m)]}) imports {t} ({LAYERS[layer_of(t)]})"
        for m in sorted(GRAPH)
        if m.split(".")[0] == top and m != top
        for t in sorted(GRAPH[m])
        if t not in ("market", "web", "matching") and layer_of(t) > layer_of(m)
    ]
    assert not upward, "\n".join(upward)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph (first node repeated at the end), or None: depth-first search
    for a back edge."""
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the stack, 2 done
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for t in sorted(graph.get(m, ())):
            if state[t] == 1:
                return [*stack[stack.index(t) :], t]
            if state[t] == 0 and (found := visit(t)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for module in sorted(graph):
        if state[module] == 0 and (found := visit(module)):
            return found
    return None


def test_no_import_cycles() -> None:
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_the_checks_can_fail() -> None:
    """A made-up cycle is found, and a made-up upward import is upward."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert layer_of("market.core.errors") < layer_of("market.trading.orders")
    assert layer_of("market.demo.seed") < layer_of("web.pages.member")
