"""The README's test command runs this: the main suite, and beside it the real-browser tests in
their own pytest process (a sync Playwright session breaks later anyio tests in one process;
running the two at once uses the machine's second core: the browser tests use their own
SQLite servers), then one closing line with the totals of both."""

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
        browser_log = Path(tmp) / "browser.log"
        browser_dir = ROOT / "tests" / "browser"
        browser: subprocess.Popen[bytes] | None = None
        if browser_dir.is_dir() and not argv:
            cmd = [sys.executable, "-m", "pytest", f"--junitxml={browser_report}", "-m"]
            cmd += ["browser", str(browser_dir)]
            print("+", " ".join(cmd), f"> {browser_log} (alongside)", flush=True)
            with browser_log.open("wb") as log:
                browser = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        # the slowest tests and set-ups at the end: where the suite's time goes
        rc = pytest(main_report, "-m", "not browser", "--durations=15", *argv)
        if browser is not None:
            browser_rc = browser.wait()
            print(browser_log.read_text(errors="replace"), flush=True)
            rc = rc or (0 if browser_rc == NO_TESTS else browser_rc)
        counts = [totals(main_report), totals(browser_report)]
    passed, failed, skipped = (sum(c[i] for c in counts) for i in range(3))
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return rc


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
