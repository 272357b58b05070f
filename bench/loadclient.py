"""A lean HTTP/1.1 keep-alive client for load generation.

The load generator shares the 2-core machine with the server it measures. httpx spends about
a millisecond of CPU per request in Python; at 1,000 requests/s that is a whole core taken
from the server. This client does only what the benchmarks need: one connection per worker,
requests with a JSON body, `Content-Length` responses (no chunked encoding, no redirects),
and it fails loudly on anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson

T = TypeVar("T")


def run_fast(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on uvloop where it is installed (less client CPU per request)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


class LoadClientError(RuntimeError):
    pass


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    def json(self) -> object:
        return orjson.loads(self.body)


class Connection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise LoadClientError(f"only http:// URLs are supported, got {base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        fixed = {"Host": f"{self._host}:{self._port}", **(headers or {})}
        self._fixed = header_lines(fixed)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Connection:
        self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()

    async def request(self, method: str, path: str, json: object = None) -> Response:
        assert self._reader is not None and self._writer is not None, "use `async with`"
        self._writer.write(request_bytes(method, path, self._fixed, json))
        return await read_response(self._reader)


def request_bytes(method: str, path: str, head: bytes, json: object = None) -> bytes:
    """One HTTP/1.1 request; `head` holds the header lines (`Name: value\r\n` each)."""
    body = b"" if json is None else orjson.dumps(json)
    start = f"{method} {path} HTTP/1.1\r\n".encode("latin-1") + head
    if json is not None:
        start += b"Content-Type: application/json\r\n"
    return start + b"Content-Length: %d\r\n\r\n" % len(body) + body


def header_lines(headers: dict[str, str]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("latin-1")


async def read_response(reader: asyncio.StreamReader) -> Response:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value)
        elif lowered == b"transfer-encoding":
            raise LoadClientError("chunked responses are not supported")
    if length is None:
        raise LoadClientError(f"HTTP {status}: response without Content-Length")
    return Response(status, await reader.readexactly(length))
