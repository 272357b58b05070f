"""`klaster watch`: print the live market events in a terminal (the JSON feed over a
WebSocket, via the `websockets` library). Reconnects by itself; Ctrl+C stops it."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from web.ui import formatting as fmt
from web.ui.i18n import N_, gettext


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the Klaster server")
    parser.add_argument("--token", default=None, help="API token (or env KLASTER_TOKEN)")
    parser.add_argument("--login", default=None, help="get a token by signing in as LOGIN")
    parser.add_argument("--password", default=None, help="(or env KLASTER_PASSWORD, or a prompt)")
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


CLEARED = N_("cleared (%(status)s): %(price)s, local %(local)s, import %(imp)s, export %(exp)s")


def describe(event: dict[str, Any], locale: str = "pl") -> str:
    """One human line per event, in the chosen language."""
    kind = event.get("type", "?")
    when = ""
    if event.get("interval_start"):
        from datetime import datetime

        moment = datetime.fromisoformat(str(event["interval_start"]).replace("Z", "+00:00"))
        when = fmt.datetime_short(moment, locale)
    data = event.get("data") or {}
    if kind == "orderbook":
        bids, asks = data.get("bids", []), data.get("asks", [])
        return (
            when
            + "  "
            + gettext(
                "order book: bids %(bid)s in %(nb)s steps, offers %(ask)s in %(na)s steps",
                locale,
                bid=fmt.energy_kwh(sum(float(s.get("quantity_kwh", 0)) for s in bids), locale),
                nb=len(bids),
                ask=fmt.energy_kwh(sum(float(s.get("quantity_kwh", 0)) for s in asks), locale),
                na=len(asks),
            )
        )
    if kind == "gate_closed":
        return (
            when + "  " + gettext("gate closed (%(n)s orders)", locale, n=event.get("orders", "?"))
        )
    if kind == "interval_cleared":
        values = sorted(float(p) for p in (event.get("prices") or {}).values())
        if not values:
            span = "–"
        elif values[0] == values[-1]:
            span = fmt.price(values[0], locale)
        else:
            span = f"{fmt.price(values[0], locale)} … {fmt.price(values[-1], locale)}"
        return (
            when
            + "  "
            + gettext(
                CLEARED,
                locale,
                status=event.get("status"),
                price=span,
                local=fmt.energy_kwh(event.get("local_kwh"), locale),
                imp=fmt.energy_kwh(event.get("import_kwh"), locale),
                exp=fmt.energy_kwh(event.get("export_kwh"), locale),
            )
        )
    return f"{when}  {kind}"


def get_token(args: argparse.Namespace) -> str | None:
    """--token, $KLASTER_TOKEN, or a new token for --login (password: --password,
    $KLASTER_PASSWORD or a prompt)."""
    from market.core.settings import get_settings

    settings = get_settings()
    token = args.token or settings.client_token
    if token or not getattr(args, "login", None):
        return token
    import getpass

    import httpx

    password = args.password or settings.client_password or getpass.getpass()
    r = httpx.post(
        args.url.rstrip("/") + "/api/v1/auth/token",
        json={"login": args.login, "password": password, "name": "klaster watch"},
        timeout=10,
    )
    if r.status_code != 201:
        raise SystemExit(f"klaster watch: sign-in refused: {r.json().get('message', r.text)}")
    return str(r.json()["token"])


async def watch(args: argparse.Namespace) -> int:

    import websockets

    url = feed_url(args.url)
    token = get_token(args)
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
