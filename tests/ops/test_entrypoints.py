"""The image's commands, run directly from an installed (non-editable) copy of the project:
the wheel the Dockerfile's `pip install .` builds, with its package data (templates, static
files with the vendored htmx, translations, migrations)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.topology import ROOT, free_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

KLASTER = str(Path(sys.executable).with_name("klaster"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built as a wheel and unpacked into a directory of its own."""
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    if build.returncode != 0:
        pytest.skip(f"could not build the wheel (needs setuptools>=77): {build.stderr[-300:]}")
    wheel = next(out.glob("klaster-*.whl"))
    target = out / "site"
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        z.extractall(target)
    for needed in (
        "web/static/htmx-2.0.11.min.js",
        "web/static/ws-2.0.4.min.js",
        "web/templates/base.html",
        "migrations/alembic.ini",
        "migrations/env.py",
    ):
        assert needed in names, needed  # fmt: skip
    assert any(n.startswith("migrations/versions/") for n in names)
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
    return target


def run(target: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KLASTER, *args], cwd=target.parent, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.postgres
@pytest.mark.parametrize("empty_db_url", ["postgresql"], indirect=True)
async def test_migrate_worker_and_serve_from_the_installed_package(
    installed: Path, empty_db_url: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLASTER_")}
    env.update({"PYTHONPATH": str(installed), "DATABASE_URL": empty_db_url,
                "KLASTER_DATA_DIR": str(tmp_path), "KLASTER_LOG_FORMAT": "json"})  # fmt: skip
    env.pop("REDIS_URL", None)
    where = run(installed, "clear", "--help", env=env)
    assert where.returncode == 0
    probe = subprocess.run(
        [sys.executable, "-c", "import web; print(web.__file__)"],
        env=env, cwd=installed.parent, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert probe.stdout.startswith(str(installed)), probe.stdout  # not the source tree

    migrated = run(installed, "migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    check = run(installed, "migrate", "--check", env=env)
    assert check.returncode == 0 and "schema matches" in check.stdout, check.stdout + check.stderr
    once = run(installed, "worker", "--once", "--no-migrate", env=env)
    assert once.returncode == 0, once.stderr

    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [KLASTER, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=installed.parent, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> Any:
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            try:
                return httpx.get(base + "/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, 60, "klaster serve")
        ready = httpx.get(base + "/ready", timeout=5)
        assert ready.status_code == 200 and ready.json()["database"] == "ok"
        assert httpx.get(base + "/static/htmx-2.0.11.min.js", timeout=5).status_code == 200
        assert "klaster_http_request_duration_seconds" in httpx.get(base + "/metrics").text
        login = httpx.get(base + "/login", timeout=5)
        assert login.status_code == 200 and "htmx-2.0.11.min.js" in login.text
    finally:
        serve.terminate()
        serve.wait(timeout=20)
        log.close()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the status says why it ended.
    assert serve.returncode in (0, -15)
    lines = (tmp_path / "serve.log").read_text().splitlines()
    assert any("Application shutdown complete" in line for line in lines)
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(e["logger"] == "klaster.access" and e["request_id"] != "-" for e in entries)
