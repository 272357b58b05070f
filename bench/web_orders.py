"""Order submission through the JSON API: throughput and latency.

    python -m bench.web_orders [--orders 3000] [--concurrency 32] [--postgres URL] [--redis URL]

Starts a seeded server (SQLite by default) in a subprocess, gets an API token for the demo
member, then POSTs /api/v1/orders with `--concurrency` requests in flight, one keep-alive connection
each (bench.loadclient: a lean client, so the load generator leaves the server its core),
after a warm-up. Prints orders/s and latency percentiles; every response must be 201.
Target (issue 4): >= 1,000 orders/s with p99 <= 50 ms on the 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid

import httpx

from bench.loadclient import Connection, run_fast
from bench.web_server import percentile, running_server


async def run_orders(url: str, total: int, concurrency: int, warmup: int) -> dict[str, float]:
    from market.seed import DEMO_LOGINS, DEMO_PASSWORD

    login = next(name for name, role in DEMO_LOGINS.items() if str(role) == "member")
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        r = await http.post("/api/v1/auth/token", json={"login": login, "password": DEMO_PASSWORD})
        r.raise_for_status()
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        points = (await http.get("/api/v1/metering-points", headers=headers)).json()
        intervals = (await http.get("/api/v1/intervals", headers=headers)).json()
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
    counter = iter(range(warmup + total))

    async def worker() -> None:
        nonlocal errors
        async with Connection(url, headers) as conn:
            for i in counter:
                t0 = time.perf_counter()
                resp = await conn.request("POST", "/api/v1/orders", body(i))
                elapsed = time.perf_counter() - t0
                if resp.status != 201:
                    errors += 1
                    if errors <= 3:
                        print(f"  HTTP {resp.status}: {resp.body[:200]!r}", flush=True)
                if i >= warmup:
                    latencies.append(elapsed)

    wall0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - wall0
    measured = len(latencies)
    # The workers share one index stream: warm-up requests are the first ones, in the wall time.
    return {
        "orders": measured,
        "errors": errors,
        "orders_per_s": (measured + warmup) / wall if wall else 0.0,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": max(latencies) * 1000 if latencies else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web_orders")
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument(
        "--postgres", default=None, help="postgresql+asyncpg://postgres@127.0.0.1/x"
    )
    parser.add_argument("--redis", default=None, help="e.g. redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    with running_server(postgres=args.postgres, redis=args.redis) as server:
        figures = run_fast(run_orders(server.url, args.orders, args.concurrency, args.warmup))
    print(
        f"web_orders  db={backend} redis={'yes' if args.redis else 'no'} "
        f"concurrency={args.concurrency} orders={figures['orders']:.0f} "
        f"errors={figures['errors']:.0f}  {figures['orders_per_s']:.0f} orders/s  "
        f"p50={figures['p50_ms']:.1f} ms p95={figures['p95_ms']:.1f} ms "
        f"p99={figures['p99_ms']:.1f} ms max={figures['max_ms']:.1f} ms"
    )
    return 0 if figures["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
