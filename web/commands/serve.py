"""`klaster serve`: run the web app with uvicorn (production: put a reverse proxy in front)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--scheduler",
        action="store_true",
        help="also run the gate-closure scheduler in this process (default: `klaster worker` does)",
    )
    parser.add_argument("--proxy-headers", action="store_true", help="trust X-Forwarded-* headers")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    # An import string, not an app: with --workers uvicorn imports it in each process.
    factory = "create_app_with_scheduler" if args.scheduler else "create_app_from_env"
    uvicorn.run(
        f"web.app:{factory}",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=args.proxy_headers,
        log_level="info",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
    )
    return 0
