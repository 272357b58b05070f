"""A real server for the browser journey: the app on a loopback port in a thread, with a
manual market clock the test moves and the in-process scheduler ticking every 0.2 s
(tests/support/servers.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import CHROMIUM, LiveServer, serve_test_app


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    yield from serve_test_app(tmp_path)
