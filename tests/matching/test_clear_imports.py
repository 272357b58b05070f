"""`klaster clear` imports only what a problem needs: the one-interval path on a small
problem (radial, transport model) never imports scipy (about 0.2 s of the command's start)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = Path(__file__).parent / "examples"

PROBE = """
import sys
from web.cli import main
rc = main(["clear", sys.argv[1], "-o", sys.argv[2]])
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"scipy", "sqlalchemy", "jinja2"})
print(rc, " ".join(heavy))
"""


def modules_after_clear(problem: Path, tmp_path: Path) -> tuple[int, list[str]]:
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(problem), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    rc, *heavy = proc.stdout.split()
    assert json.loads(out.read_text())["status"] == "optimal"
    return int(rc), heavy


def test_small_radial_problem_clears_without_scipy(tmp_path: Path) -> None:
    for name in (
        "01-single-node-merit-order",
        "02-congested-line-two-prices",
        "03-grid-connection",
    ):
        rc, heavy = modules_after_clear(EXAMPLES / f"{name}.json", tmp_path)
        assert rc == 0
        assert heavy == [], (name, heavy)


def test_matching_import_alone_does_not_import_scipy() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, matching; print('scipy' in sys.modules)"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.stdout.strip() == "False", proc.stdout + proc.stderr
