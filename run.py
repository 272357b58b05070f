#!/usr/bin/env python3
"""Bootstrap for the two-command quick start. Needs only Python 3.11+.

    python3 run.py demo    # local virtualenv, SQLite, demo cluster, web UI on :8000
    python3 run.py test    # local virtualenv, the whole test suite

Also: `setup`, `lint`, `bench`. Everything is installed into ./.venv; nothing global.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def sh(*cmd: str | os.PathLike[str], env: dict[str, str] | None = None) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)


def setup() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - run.py must explain this on old Pythons
        sys.exit("Klaster needs Python 3.11 or newer")
    if not PY.exists():
        print(f"creating virtualenv in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / ".klaster-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    if sh(PY, "-m", "pip", "install", "-q", "--upgrade", "pip") != 0:
        sys.exit("pip upgrade failed")
    if sh(PY, "-m", "pip", "install", "-q", "-e", ".[dev]") != 0:
        sys.exit("installing Klaster failed")
    stamp.write_text(digest)


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "help"
    rest = argv[1:]
    if cmd == "setup":
        setup()
        return 0
    if cmd == "demo":
        setup()
        return sh(BIN / "klaster", "demo", *rest)
    if cmd == "test":
        setup()
        return sh(PY, str(ROOT / "tests" / "run_all.py"), *rest)
    if cmd == "lint":
        setup()
        rc = sh(BIN / "ruff", "check", ".")
        rc |= sh(BIN / "ruff", "format", "--check", ".")
        rc |= sh(BIN / "mypy")
        return rc
    if cmd == "bench":
        setup()
        return sh(PY, "-m", "bench", *rest)
    print(__doc__)
    return 0 if cmd == "help" else 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
