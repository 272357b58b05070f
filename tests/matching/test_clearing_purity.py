"""The clearing core stays a pure function: no database, web, template or file I/O."""

from __future__ import annotations

import ast
from pathlib import Path

MATCHING = Path(__file__).resolve().parents[2] / "matching"
BANNED_MODULES = {
    "sqlalchemy",
    "litestar",
    "jinja2",
    "alembic",
    "market",
    "web",
    "asyncpg",
    "aiosqlite",
    "redis",
    "pathlib",
    "io",
    "os",
    "shutil",
    "socket",
}
BANNED_CALLS = {"open", "print", "input"}


def test_matching_imports_and_calls_nothing_impure() -> None:
    files = sorted(MATCHING.rglob("*.py"))
    assert files
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                names = []
            for name in names:
                assert name.split(".")[0] not in BANNED_MODULES, f"{path.name} imports {name}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in BANNED_CALLS, f"{path.name} calls {node.func.id}()"
