"""The errors of the export, settlement and report code carry message ids (never f-strings),
and each id has its Polish text, with the same placeholders."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    *(ROOT / "market" / "export").rglob("*.py"),
    *(ROOT / "market" / "settlement").rglob("*.py"),
    *(ROOT / "market" / "reports").rglob("*.py"),
    ROOT / "market" / "commands" / "export.py",
]
ERRORS = {"ValidationFailed", "NotFound", "Forbidden", "Conflict", "NotAuthenticated"}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def raised_messages() -> list[tuple[str, ast.expr]]:
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ERRORS
                and len(node.args) >= 2
            ):
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", node.args[1]))
    return found


def test_every_error_message_id_has_polish_text() -> None:
    catalog = json.loads((ROOT / "web" / "locale" / "pl.json").read_text(encoding="utf-8"))
    messages = catalog["messages"]
    found = raised_messages()
    assert len(found) >= 10
    for where, arg in found:
        assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), where
        assert arg.value in messages, f"{where}: no Polish text for {arg.value!r}"
        polish = messages[arg.value]
        assert set(PLACEHOLDER.findall(arg.value)) == set(PLACEHOLDER.findall(polish)), where
