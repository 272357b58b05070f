"""`klaster watch`: print the live market events in a terminal (the JSON feed over a
WebSocket, via the `websockets` library). Reconnects by itself; Ctrl+C stops it."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from web import formatting as fmt


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the Klaster server")
    parser.add_argument("--token", default=None, help="API token (or env KLASTER_TOKEN)")
    parser.add_argument("--json", action="store_true", help="print raw JSON lines")
    parser.add_argument("--count", type=int, default=0, help="stop after this many events")
    parser.add_argument("--lang", choices=("pl", "en"), default="pl")


def feed_url(url: str) -> str:
    base = url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    elif not base.startswith(("ws://", "wss://")):
        base = "ws://" + base
    return base + "/api/v1/feed"


def describe(event: dict[str, Any], locale: str = "pl") -> str:
    """One human line per event."""
    kind = event.get("type", "?")
    start = event.get("interval_start")
    when = ""
    if start:
        from datetime import datetime

        moment = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        when = fmt.datetime_short(moment, locale)
    data = event.get("data") or {}
    if kind == "orderbook":
        bids = data.get("bids", [])
        offers = data.get("offers", [])
        bid_kwh = sum(float(level.get("quantity_kwh", 0)) for level in bids)
        offer_kwh = sum(float(level.get("quantity_kwh", 0)) for level in offers)
        return (
            f"{when}  order book  bids {fmt.energy_kwh(bid_kwh, locale)} in {len(bids)} steps, "
            f"offers {fmt.energy_kwh(offer_kwh, locale)} in {len(offers)} steps"
        )
    if kind == "gate_closed":
        return f"{when}  gate closed  ({event.get('orders', '?')} orders)"
    if kind == "interval_cleared":
        prices = event.get("prices") or {}
        values = sorted(float(p) for p in prices.values()) if prices else []
        span = (
            fmt.price(values[0], locale)
            if values and values[0] == values[-1]
            else (
                f"{fmt.price(values[0], locale)} … {fmt.price(values[-1], locale)}"
                if values
                else "–"
            )
        )
        return (
            f"{when}  cleared [{event.get('status')}]  price {span}  local "
            f"{fmt.energy_kwh(event.get('local_kwh'), locale)}  import "
            f"{fmt.energy_kwh(event.get('import_kwh'), locale)}  export "
            f"{fmt.energy_kwh(event.get('export_kwh'), locale)}"
        )
    return f"{when}  {kind}"


async def watch(args: argparse.Namespace) -> int:
    import os

    import websockets

    url = feed_url(args.url)
    token = args.token or os.environ.get("KLASTER_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    seen = 0
    delay = 1.0
    while True:
        try:
            async with websockets.connect(url, additional_headers=headers, open_timeout=10) as ws:
                print(f"# connected to {url}", file=sys.stderr, flush=True)
                delay = 1.0
                async for message in ws:
                    event = json.loads(message)
                    print(
                        json.dumps(event) if args.json else describe(event, args.lang), flush=True
                    )
                    seen += 1
                    if args.count and seen >= args.count:
                        return 0
        except (OSError, websockets.exceptions.WebSocketException) as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status in (401, 403):
                print("klaster watch: the server refused the token (use --token)", file=sys.stderr)
                return 2
            print(f"# disconnected ({exc}); retrying in {delay:.0f} s", file=sys.stderr, flush=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(watch(args))
    except KeyboardInterrupt:
        return 0
