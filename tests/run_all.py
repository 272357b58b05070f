"""The README's test command runs this: the main suite, then the real-browser journey in its
own pytest process (a sync Playwright session breaks later anyio tests in one process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NO_TESTS = 5  # pytest's exit status when nothing was collected


def pytest(*args: str) -> int:
    cmd = [sys.executable, "-m", "pytest", *args]
    print("+", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


def main(argv: list[str]) -> int:
    rc = pytest("-m", "not browser", *argv)
    if rc != 0:
        return rc
    browser_dir = ROOT / "tests" / "browser"
    if browser_dir.is_dir() and not argv:
        rc = pytest("-m", "browser", str(browser_dir))
        if rc == NO_TESTS:
            rc = 0
    return rc


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
