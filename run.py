#!/usr/bin/env python3
"""Bootstrap for the two-command quick start. Needs only Python 3.11+.

    python3 run.py demo    # local virtualenv, SQLite, demo cluster, web UI on :8000
    python3 run.py test    # local virtualenv, the whole test suite

Also: `setup`, `lint`, `bench`, and `lock [--upgrade]`. Everything is installed into ./.venv;
nothing global. The versions installed are the ones in requirements.lock (what the suite
passed with; CI and the Docker image install the same): `lock` writes the versions in
./.venv into it, `lock --upgrade` first takes the newest releases pyproject.toml allows.
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
LOCK = ROOT / "requirements.lock"
LOCK_HEADER = """\
# The exact versions Klaster and its `dev` extra install: `python3 run.py setup` (the quick
# start), CI (.ci/run) and the Docker image (without `dev`), always with `-c` (constraints).
# The set the test suite passed with, made on Linux with Python {python}.
# Refresh: python3 run.py lock --upgrade && python3 run.py test, then commit this file.
# Written by `python3 run.py lock` (the versions in ./.venv); do not edit by hand.
"""


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
    if not LOCK.exists():
        sys.exit(f"{LOCK.name} is missing (git checkout it, or write one: run.py lock --upgrade)")
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", LOCK):
        digest.update(path.read_bytes())
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return
    pip: list[str | os.PathLike[str]] = [
        PY,
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
        "-c",
        LOCK,
    ]
    if sh(*pip, "pip") != 0:  # the lock's pip
        sys.exit("installing pip failed")
    if sh(*pip, "-e", ".[dev]") != 0:
        sys.exit("installing Klaster failed")
    stamp.write_text(digest.hexdigest())


def lock(upgrade: bool) -> int:
    """Write requirements.lock from ./.venv (after taking the newest allowed releases)."""
    setup()
    if upgrade:
        cmd: list[str | os.PathLike[str]] = [PY, "-m", "pip", "install", "-q", "--upgrade"]
        cmd += ["--upgrade-strategy", "eager"]
        if sh(*cmd, "pip", "-e", ".[dev]") != 0:
            return 1
    return sh(PY, __file__, "_write-lock")


def write_lock() -> None:
    """(Run by the venv's Python.) Every distribution klaster[dev] needs, transitively, at the
    installed version; a line keeps the environment marker when only marked requirements
    (`uvloop; sys_platform != 'win32'`) lead to it."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    extras: dict[str, set[str]] = {}
    markers: dict[str, set[str]] = {}  # "" = needed unconditionally
    todo: list[tuple[str, set[str], str]] = [("klaster", {"dev"}, "")]
    while todo:
        name, wanted, marker = todo.pop()
        key = canonicalize_name(name)
        seen = markers.setdefault(key, set())
        if key in extras and wanted <= extras[key] and marker in seen:
            continue
        seen.add(marker)
        extras[key] = extras.get(key, set()) | wanted
        for line in metadata.distribution(name).requires or []:
            req = Requirement(line)
            envs = [{"extra": e} for e in sorted(extras[key])] or [{"extra": ""}]
            if req.marker is not None and not any(req.marker.evaluate(e) for e in envs):
                continue
            own = str(req.marker) if req.marker and "extra" not in str(req.marker) else ""
            todo.append((req.name, set(req.extras), marker or own))
    lines = []
    for dist_name, how in markers.items():
        if dist_name == "klaster":
            continue
        dist = metadata.distribution(dist_name)
        pin = f"{dist.metadata['Name']}=={dist.version}"
        if "" not in how:
            pin += " ; " + " or ".join(f"({m})" for m in sorted(how))
        lines.append(pin)
    lines.append(f"pip=={metadata.version('pip')}")
    python = ".".join(map(str, sys.version_info[:2]))
    body = "\n".join(sorted(lines, key=lambda pin: canonicalize_name(pin.split("==")[0])))
    LOCK.write_text(LOCK_HEADER.format(python=python) + body + "\n")
    print(f"wrote {LOCK.name}: {len(lines)} pinned distributions")


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "help"
    rest = argv[1:]
    if cmd == "setup":
        setup()
        return 0
    if cmd == "lock":
        return lock(upgrade="--upgrade" in rest)
    if cmd == "_write-lock":  # run.py lock runs this with the venv's Python
        write_lock()
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
