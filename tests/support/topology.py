"""The production topology on loopback, without Docker: `klaster serve` processes and
`klaster worker` processes against one PostgreSQL database and one Redis.

Used by the cluster tests (`tests/ops/test_cluster.py`) and the benchmark
(`bench/cluster.py`). Only 127.0.0.1; every wait polls with a deadline; every process
started here is stopped here (by its own handle).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), 0.5):
            return True
    except OSError:
        return False


def redis_reachable(url: str) -> str:
    """Empty when Redis answers at `url`, else why not."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    if host not in ("127.0.0.1", "localhost", "::1"):
        return f"{url} is not a loopback address"
    return "" if port_open(host, port) else f"nothing listens at {host}:{port}"


def wait_until(check: object, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll `check()` until true (bounded in time and count)."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / interval) + 10):
        if check():  # type: ignore[operator]
            return
        if time.monotonic() > deadline:
            break
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Topology:
    """Processes started against `database_url` and `redis_url` with a shared environment."""

    database_url: str
    redis_url: str
    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)

    def base_env(self) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("KLASTER_", "DATABASE_URL"))
        }
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "KLASTER_SECRET_KEY": "topology-shared-secret",
                "KLASTER_SECURE_COOKIES": "0",
                "KLASTER_DATA_DIR": str(self.log_dir),
                "KLASTER_LOG_FORMAT": "json",
                "PYTHONPATH": str(ROOT),
            }
        )
        env.update(self.env)
        return env

    def _start(self, name: str, args: list[str], extra: dict[str, str]) -> Proc:
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "web.cli", *args],
                cwd=ROOT,
                env={**self.base_env(), **extra},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def start_app(self, name: str, extra: dict[str, str] | None = None) -> Proc:
        port = free_port()
        proc = self._start(name, ["serve", "--host", "127.0.0.1", "--port", str(port)], extra or {})
        proc.url = f"http://127.0.0.1:{port}"
        return proc

    def start_worker(self, name: str, extra: dict[str, str] | None = None) -> Proc:
        return self._start(name, ["worker", "--no-migrate", "--worker-id", name], extra or {})

    def wait_ready(self, proc: Proc, timeout: float = 60, path: str = "/ready") -> None:
        def ready() -> bool:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode}):\n{proc.tail()}")
            try:
                return httpx.get(proc.url + path, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout, f"{proc.name} at {proc.url}{path}", interval=0.1)

    def stop(
        self, proc: Proc, sig: int = signal.SIGTERM, timeout: float = 15, *, signal_it: bool = True
    ) -> None:
        if signal_it and proc.alive():
            proc.popen.send_signal(sig)
        try:
            proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.alive():
                proc.popen.send_signal(signal.SIGTERM)
        for proc in self.procs:  # one SIGTERM each: a second one means "hurry" to some
            self.stop(proc, signal_it=False)


@dataclass
class RedisServer:
    """A private, throw-away `redis-server` on a free loopback port (outage tests)."""

    workdir: Path
    port: int = 0
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise FileNotFoundError("redis-server")
        self.port = self.port or free_port()
        log = (self.workdir / f"redis-{self.port}.log").open("ab")
        with log:
            self.popen = subprocess.Popen(
                [
                    exe,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.workdir),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(lambda: port_open("127.0.0.1", self.port), 15, f"redis-server :{self.port}")

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self.popen = None


@contextlib.contextmanager
def private_redis(workdir: Path) -> Iterator[RedisServer]:
    server = RedisServer(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
