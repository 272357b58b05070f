"""Processes a test starts and kills: does what they started leave with them?"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def owner(script: str) -> Iterator[tuple[subprocess.Popen[str], list[int]]]:
    """Run `script` in a new Python process; it prints the pids of the processes it starts
    on its first line. Yields the process and those pids (each checked alive); the process
    is killed and reaped at the end whatever happens."""
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        children = [int(pid) for pid in process.stdout.readline().split()]
        for pid in children:
            os.kill(pid, 0)  # alive while their owner is
        yield process, children
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def kill_and_survivors(
    process: subprocess.Popen[str], pids: list[int], within: float = 15
) -> list[int]:
    """SIGKILL `process`; the `pids` still running `within` seconds later (SIGKILLed then,
    so no test leaves them behind)."""
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    deadline = time.monotonic() + within
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [pid for pid in alive if running(pid)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    return alive


def running(pid: int) -> bool:
    """Alive and not a zombie (exited, not yet reaped by init, counts as gone)."""
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False
