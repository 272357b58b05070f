"""Order submission through the JSON API: throughput and latency.

    python -m bench.web_orders [--orders 3000] [--concurrency 32] [--rate R]
                               [--postgres URL] [--redis URL] [--apps N]

Starts a seeded server (SQLite by default) in a subprocess, gets an API token for the demo
member, then POSTs /api/v1/orders over `--concurrency` keep-alive connections
(bench.loadclient: a lean client, so the load generator leaves the server its core), after a
warm-up. Two ways to load it:

- closed loop (default): every connection sends its next order as soon as the last one is
  answered: the throughput the server reaches with that many requests in flight;
- open loop (`--rate R`): order k is due at start + k/R whatever the server does, and its
  latency counts from that moment, so a server that falls behind shows it in p99.

The warm-up (`--warmup` orders, closed loop) is not measured. On PostgreSQL it ends with
`ANALYZE`: a fresh database has no statistics until autovacuum's first analyze, which in
production comes within a minute of a table's growth; without them PostgreSQL plans the
intake's client-order-id lookup as a scan of all the member's orders, and a benchmark that
fills a new database at 1,000 orders/s measures that minute instead of the service.

Prints orders/s and latency percentiles; every response must be 201.
Target (issue 4): >= 1,000 orders/s with p99 <= 50 ms on the 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx

from bench.loadclient import Connection, run_fast
from bench.web_server import analyze, percentile, running_server


async def run_orders(
    url: str,
    total: int,
    concurrency: int,
    warmup: int,
    urls: list[str] | None = None,
    rate: float | None = None,
    after_warmup: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, float]:
    """POST `warmup + total` orders over `concurrency` connections, spread over `urls` (the
    app processes; default just `url`); closed loop, or open loop at `rate` orders/s."""
    from market.demo.seed import DEMO_LOGINS, DEMO_PASSWORD

    login = next(name for name, role in DEMO_LOGINS.items() if str(role) == "member")
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        r = await http.post("/api/v1/auth/token", json={"login": login, "password": DEMO_PASSWORD})
        r.raise_for_status()
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        points = (await http.get("/api/v1/metering-points", headers=headers)).json()
        for _ in range(300):  # the scheduler opens the intervals right after it starts
            intervals = (await http.get("/api/v1/intervals", headers=headers)).json()
            if any(iv["accepting_orders"] for iv in intervals["open"]):
                break
            await asyncio.sleep(0.1)
        params = (await http.get("/api/v1/parameters", headers=headers)).json()
        open_ids = [iv["id"] for iv in intervals["open"] if iv["accepting_orders"]][-4:]
        floor, cap = float(params["price_floor"]), float(params["price_cap"])
        rng = random.Random(7)
        run = uuid.uuid4().hex[:8]

        def body(i: int) -> dict[str, object]:
            return {
                "interval_id": open_ids[i % len(open_ids)],
                "metering_point_id": points[i % len(points)]["id"],
                "side": "buy" if i % 2 else "sell",
                "quantity_kwh": "0.010",
                "price": f"{rng.uniform(floor, cap):.4f}",
                "client_order_id": f"bench-{run}-{i}",
            }

    latencies: list[float] = []
    errors = 0

    async def phase(first: int, count: int, open_rate: float | None, measure: bool) -> float:
        """Orders first..first+count over fresh connections; returns the wall time."""
        nonlocal errors
        counter = iter(range(first, first + count))
        start = 0.0

        async def worker(app_url: str) -> None:
            nonlocal errors
            async with Connection(app_url, headers) as conn:
                await ready.wait()
                for i in counter:
                    t0 = time.perf_counter()
                    if open_rate:
                        due = start + (i - first) / open_rate
                        if due > t0:
                            await asyncio.sleep(due - t0)
                        t0 = due  # late requests count their wait
                    resp = await conn.request("POST", "/api/v1/orders", body(i))
                    elapsed = time.perf_counter() - t0
                    if resp.status != 201:
                        errors += 1
                        if errors <= 3:
                            print(f"  HTTP {resp.status}: {resp.body[:200]!r}", flush=True)
                    if measure:
                        latencies.append(elapsed)

        apps = urls or [url]
        ready = asyncio.Event()
        tasks = [asyncio.create_task(worker(apps[k % len(apps)])) for k in range(concurrency)]
        await asyncio.sleep(0.5)  # connections open
        start = wall0 = time.perf_counter()
        ready.set()
        await asyncio.gather(*tasks)
        return time.perf_counter() - wall0

    await phase(0, warmup, None, measure=False)
    if after_warmup is not None:
        await after_warmup()
    wall = await phase(warmup, total, rate, measure=True)
    measured = len(latencies)
    return {
        "orders": measured,
        "errors": errors,
        "orders_per_s": measured / wall if wall else 0.0,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": max(latencies) * 1000 if latencies else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web_orders")
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=2000)
    parser.add_argument(
        "--rate", type=float, default=None, help="open loop: orders per second (default: closed)"
    )
    parser.add_argument(
        "--postgres", default=None, help="postgresql+asyncpg://postgres@127.0.0.1/x"
    )
    parser.add_argument("--redis", default=None, help="e.g. redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--apps",
        type=int,
        default=1,
        help="app processes (> 1: production topology, `klaster worker` + N `klaster serve`; "
        "needs --postgres and --redis)",
    )
    args = parser.parse_args(argv)
    if args.apps > 1 and not (args.postgres and args.redis):
        parser.error("--apps > 1 needs --postgres and --redis")
    backend = "PostgreSQL" if args.postgres else "SQLite"
    with running_server(postgres=args.postgres, redis=args.redis, apps=args.apps) as server:
        figures = run_fast(
            run_orders(
                server.url,
                args.orders,
                args.concurrency,
                args.warmup,
                server.urls,
                args.rate,
                (lambda: analyze(server.database_url)) if args.postgres else None,
            )
        )
    print(
        f"web_orders  db={backend} redis={'yes' if args.redis else 'no'} apps={args.apps} "
        f"{f'open loop at {args.rate:g}/s' if args.rate else 'closed loop'} "
        f"connections={args.concurrency} orders={figures['orders']:.0f} "
        f"errors={figures['errors']:.0f}  {figures['orders_per_s']:.0f} orders/s  "
        f"p50={figures['p50_ms']:.1f} ms p95={figures['p95_ms']:.1f} ms "
        f"p99={figures['p99_ms']:.1f} ms max={figures['max_ms']:.1f} ms"
    )
    return 0 if figures["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
