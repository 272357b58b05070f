"""Fan-out of a cleared interval to many live pages.

    python -m bench.ws_fanout [--clients 1000] [--events 3] [--interval-seconds 10]
                              [--postgres URL] [--redis URL]

Starts the seeded demo server in a subprocess (scheduler in process, fast clock: one interval
every `--interval-seconds`), signs in once, and opens `--clients` WebSockets on
/ws/live?page=live — what a browser on the Live market page holds, receiving the rendered
out-of-band fragments. For each of `--events` `interval_cleared` pushes it records when every
client held the message, and compares with the moment the results were stored
(`intervals.cleared_at`, written in the clearing's final transaction). Prints p50/p99/max of
stored → received over all clients and events, and how many clients got each event.
Target (issue 4): p99 <= 1 s for 1,000 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from datetime import UTC
from typing import Any

import httpx

from bench.web_server import percentile, running_server

EVENT = re.compile(r'data-live-event="interval_cleared"[^>]*data-interval="(\d+)"')


async def session_cookie(url: str) -> str:
    from market.demo.seed import DEMO_LOGINS, DEMO_PASSWORD

    login = next(name for name, role in DEMO_LOGINS.items() if str(role) == "member")
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await http.get("/login")
        form = {"login": login, "password": DEMO_PASSWORD, "_csrf_token": http.cookies["csrftoken"]}
        r = await http.post("/login", data=form)
        if r.status_code not in (302, 303):
            raise RuntimeError(f"sign-in failed: {r.status_code}")
        return f"klaster_session={http.cookies['klaster_session']}"


async def client(url: str, cookie: str, seen: dict[int, list[float]], ready: asyncio.Event,
                 counter: list[int], total: int, stop: asyncio.Event) -> None:  # fmt: skip
    import websockets

    async with websockets.connect(
        url,
        additional_headers={"Cookie": cookie},
        max_size=None,
        open_timeout=60,
        ping_interval=None,
    ) as ws:
        counter[0] += 1
        if counter[0] == total:
            ready.set()
        while not stop.is_set():
            try:
                message = await asyncio.wait_for(ws.recv(), timeout=1.0)
            except TimeoutError:
                continue
            received = time.time()
            match = EVENT.search(message if isinstance(message, str) else message.decode())
            if match:
                seen.setdefault(int(match.group(1)), []).append(received)


async def cleared_at(database_url: str, ids: list[int]) -> dict[int, float]:
    from sqlalchemy import select

    from market.db.engine import create_engine, session_factory
    from market.trading.models import Interval

    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = (
                await session.execute(
                    select(Interval.id, Interval.cleared_at).where(Interval.id.in_(ids))
                )
            ).all()
    finally:
        await engine.dispose()
    return {i: (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp() for i, t in rows if t}


async def run(server: Any, clients: int, events: int) -> dict[str, Any]:
    cookie = await session_cookie(server.url)
    ws_url = server.url.replace("http://", "ws://") + "/ws/live?page=live"
    seen: dict[int, list[float]] = {}
    ready, stop = asyncio.Event(), asyncio.Event()
    counter = [0]
    tasks = []
    for _ in range(clients):
        tasks.append(
            asyncio.create_task(client(ws_url, cookie, seen, ready, counter, clients, stop))
        )
        await asyncio.sleep(0.002)  # a connection storm is not what is measured
    await asyncio.wait_for(ready.wait(), timeout=300)
    start_ids = set(seen)  # an event that arrived while connecting is not counted
    deadline = time.monotonic() + 600
    while len(set(seen) - start_ids) < events + 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    await asyncio.sleep(3.0)  # stragglers
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    measured = sorted(set(seen) - start_ids)[:events]
    stored = await cleared_at(server.database_url, measured)
    latencies = [t - stored[i] for i in measured if i in stored for t in seen[i]]
    return {
        "measured": measured,
        "per_event": [len(seen[i]) for i in measured],
        "latencies": latencies,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ws_fanout")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--events", type=int, default=3)
    parser.add_argument("--interval-seconds", type=float, default=10.0)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--redis", default=None)
    args = parser.parse_args(argv)
    with running_server(
        postgres=args.postgres, redis=args.redis, interval_seconds=args.interval_seconds
    ) as server:
        figures = asyncio.run(run(server, args.clients, args.events))
    lat = figures["latencies"]
    complete = all(n == args.clients for n in figures["per_event"])
    print(
        f"ws_fanout  db={'PostgreSQL' if args.postgres else 'SQLite'} "
        f"redis={'yes' if args.redis else 'no'} clients={args.clients} "
        f"events={len(figures['measured'])} received={figures['per_event']}  stored→held: "
        f"p50={percentile(lat, 50) * 1000:.0f} ms p99={percentile(lat, 99) * 1000:.0f} ms "
        f"max={max(lat, default=float('nan')) * 1000:.0f} ms"
    )
    return 0 if complete and figures["measured"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
