"""The README's test command runs this: the main suite, then the real-browser journey in its
own pytest process (a sync Playwright session breaks later anyio tests in one process), then
one closing line with the totals of both."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NO_TESTS = 5  # pytest's exit status when nothing was collected


def pytest(report: Path, *args: str) -> int:
    cmd = [sys.executable, "-m", "pytest", f"--junitxml={report}", *args]
    print("+", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


def totals(report: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) from a JUnit XML report; zeros if there is none."""
    if not report.exists():
        return 0, 0, 0
    root = ET.parse(report).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    tests = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    return tests - failed - skipped, failed, skipped


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        main_report = Path(tmp) / "main.xml"
        browser_report = Path(tmp) / "browser.xml"
        # the slowest tests and set-ups at the end: where the suite's time goes
        rc = pytest(main_report, "-m", "not browser", "--durations=15", *argv)
        browser_dir = ROOT / "tests" / "browser"
        if rc == 0 and browser_dir.is_dir() and not argv:
            rc = pytest(browser_report, "-m", "browser", str(browser_dir))
            if rc == NO_TESTS:
                rc = 0
        counts = [totals(main_report), totals(browser_report)]
    passed, failed, skipped = (sum(c[i] for c in counts) for i in range(3))
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return rc


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
