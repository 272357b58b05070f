"""Running the market in production: logs and metrics shared by every process (`klaster
serve`, `klaster worker`, the demo), and what `klaster worker` adds to the scheduler (its
metrics, the live channels' name prefix).

Logs: one line per record on stderr — JSON objects in production (`KLASTER_LOG_FORMAT=json`),
readable text in a terminal (`text`); `auto` (the default) picks text on a terminal and JSON
otherwise (containers, systemd). Every record carries the request id of the HTTP request it
was logged in (`request_id`, set by `web.ops`), so one request's lines can be found together.

Metrics (Prometheus, `prometheus-client`): the worker's clearing metrics live here because
the worker has no web layer; `klaster worker` serves them on `KLASTER_METRICS_PORT`
(`Settings.metrics_port`).
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import Counter, Histogram

from market.clearing.scheduler import Scheduler, TickReport
from market.core.events import Publisher
from market.core.settings import Settings

#: The current HTTP request's id ("-" outside requests).
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}

CLEARING_SECONDS = Histogram(
    "klaster_clearing_duration_seconds",
    "Clearing one interval: build the problem, solve, store (from the stored run's timings)",
    ["status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
CLEARINGS = Counter("klaster_clearings_total", "Intervals cleared by this process", ["status"])
GATES_CLOSED = Counter("klaster_gates_closed_total", "Gates closed by this process")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


#: A credential in a URL's query string (`/ws/live?token=…`: uvicorn logs a socket's path
#: with its query at INFO, and an access line would too).
_SECRET_IN_QUERY = re.compile(
    r"(?i)([?&](?:token|access_token|api_key|apikey|session|password)=)[^&\s\"']+"
)


class RedactFilter(logging.Filter):
    """Replace credentials in query strings with `***` in every record the handler writes."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record: leave it to the formatter
            return True
        redacted = _SECRET_IN_QUERY.sub(r"\1***", text)
        if redacted != text:
            record.msg, record.args = redacted, None
        return True


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, request_id, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "pid": record.process,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        # orjson: a few microseconds a line, and the access log writes one a request
        return orjson.dumps(entry, default=str).decode()


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"


def log_format(settings: Settings) -> str:
    """`json` or `text` from `KLASTER_LOG_FORMAT` (`auto`: text on a terminal)."""
    if settings.log_format == "auto":
        return "text" if sys.stderr.isatty() else "json"
    return settings.log_format


def configure_logging(settings: Settings) -> str:
    """Route every logger (ours, uvicorn's, SQLAlchemy's) to one stderr handler; idempotent.
    Returns the format chosen."""
    fmt = log_format(settings)
    handler = StderrHandler()
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.set_name("klaster")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "klaster"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Our access log (web.ops) has the request id and the route; uvicorn's would repeat it.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    return fmt


def serve_metrics(port: int, host: str = "0.0.0.0") -> None:
    """Prometheus text on http://host:port/metrics from a background thread."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host)


async def observe_tick(sessions: Any, report: Any) -> None:
    """Record one scheduler pass: gates closed, clearings with their stored timings."""
    from sqlalchemy import select

    from market.clearing.models import ClearingRun

    GATES_CLOSED.inc(len(report.closed))
    if not report.cleared:
        return
    runs = {r.run_id: r for r in report.cleared}
    async with sessions() as session:
        rows = (
            await session.execute(
                select(ClearingRun.id, ClearingRun.started_at, ClearingRun.finished_at).where(
                    ClearingRun.id.in_(list(runs))
                )
            )
        ).all()
    for run_id, started, finished in rows:
        status = runs[run_id].status
        CLEARINGS.labels(status).inc()
        if started is not None and finished is not None:
            CLEARING_SECONDS.labels(status).observe(max(0.0, (finished - started).total_seconds()))


class MeteredScheduler(Scheduler):
    """The scheduler, recording every pass in the metrics above (`klaster worker`)."""

    async def tick(self) -> TickReport:
        report = await super().tick()
        try:
            await observe_tick(self.sessions, report)
        except Exception:  # metrics never stop the market
            logging.getLogger("klaster.metrics").exception("recording the pass failed")
        return report


class PrefixedPublisher:
    """Publishes to `prefix + channel`: the worker's side of `KLASTER_CHANNEL_PREFIX`, so it
    reaches web processes whose channels carry the same prefix (shared Redis, tests)."""

    def __init__(self, inner: Publisher, prefix: str) -> None:
        self.inner = inner
        self.prefix = prefix

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        await self.inner.publish(self.prefix + channel, event)

    async def aclose(self) -> None:
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()


def worker_publisher(settings: Settings) -> Publisher:
    """The worker's event publisher: Redis (when configured) with the channel prefix."""
    from market.core.events import publisher_from_url

    inner = publisher_from_url(settings.redis_url)
    prefix = settings.channel_prefix
    return PrefixedPublisher(inner, prefix) if prefix else inner
