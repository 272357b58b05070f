"""/health, /ready, /metrics, request ids and order counters on the in-process app."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from prometheus_client import REGISTRY

from tests.support.world import PASSWORD, World

pytestmark = pytest.mark.anyio


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def api_headers(client: Any, login: str = "alice") -> dict[str, str]:
    r = client.post("/api/v1/auth/token", json={"login": login, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def test_health_and_ready(client: Any) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    r = client.get("/ready")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "database": "ok", "redis": "not configured"}


async def test_ready_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    from market.core.settings import Settings
    from web.app import create_app
    from web.config import WebConfig

    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql+asyncpg://nobody@127.0.0.1:9/none",
        secret_key="x",
    )
    app = create_app(settings, config=WebConfig(secure_cookies=False))
    app.debug = False
    with TestClient(app=app) as client:
        assert client.get("/health").status_code == 200
        r = client.get("/ready")
    assert r.status_code == 503
    assert r.json()["status"] == "not ready"
    assert r.json()["database"].startswith("unreachable")


async def test_request_id_is_echoed_or_made_and_latency_is_recorded(client: Any) -> None:
    before = sample(
        "klaster_http_request_duration_seconds_count", method="GET", route="/health", status="200"
    )
    given = client.get("/health", headers={"X-Request-ID": "proxy-abc.123"})
    assert given.headers["x-request-id"] == "proxy-abc.123"
    made = client.get("/health", headers={"X-Request-ID": "bad id\n<script>"})
    assert made.headers["x-request-id"] != "bad id\n<script>"
    assert len(made.headers["x-request-id"]) == 16
    after = sample(
        "klaster_http_request_duration_seconds_count", method="GET", route="/health", status="200"
    )
    assert after == before + 2
    text = client.get("/metrics").text
    assert "# TYPE klaster_http_request_duration_seconds histogram" in text
    assert "klaster_websocket_connections" in text and "klaster_orders_total" in text


async def test_orders_accepted_and_rejected_are_counted(client: Any, world: World) -> None:
    headers = api_headers(client)
    intervals = client.get("/api/v1/intervals", headers=headers).json()
    interval_id = next(iv["id"] for iv in intervals["open"] if iv["accepting_orders"])
    order = {
        "interval_id": interval_id,
        "metering_point_id": world.ids["alice_point"],
        "side": "sell",
        "quantity_kwh": "1.5",
        "price": "0.4000",
    }
    accepted, rejected = (
        sample("klaster_orders_total", outcome="accepted"),
        sample("klaster_orders_total", outcome="rejected"),
    )
    assert client.post("/api/v1/orders", json=order, headers=headers).status_code == 201
    bad = client.post("/api/v1/orders", json={**order, "price": "99"}, headers=headers)
    assert bad.status_code == 422
    assert sample("klaster_orders_total", outcome="accepted") == accepted + 1
    assert sample("klaster_orders_total", outcome="rejected") == rejected + 1


async def test_open_websockets_are_counted(client: Any, world: World) -> None:
    headers = api_headers(client)
    before = sample("klaster_websocket_connections")
    with client.websocket_connect("/api/v1/feed", headers=headers):
        assert sample("klaster_websocket_connections") == before + 1
    for _ in range(100):  # the server side finishes just after the client leaves
        if sample("klaster_websocket_connections") == before:
            break
        client.get("/health")
    assert sample("klaster_websocket_connections") == before


def test_json_log_lines_carry_the_request_id() -> None:
    from market.clearing.operations import JsonFormatter, RequestIdFilter, request_id_var

    record = logging.LogRecord("klaster.t", logging.INFO, __file__, 1, "hello %s", ("x",), None)
    record.duration_ms = 1.5
    token = request_id_var.set("rid-1")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "hello x" and line["request_id"] == "rid-1"
    assert line["level"] == "info" and line["logger"] == "klaster.t" and line["duration_ms"] == 1.5


def test_log_format_choice() -> None:
    from market.clearing.operations import log_format
    from market.core.settings import Settings

    assert log_format(Settings.from_env({"KLASTER_LOG_FORMAT": "json"})) == "json"
    assert log_format(Settings.from_env({"KLASTER_LOG_FORMAT": "text"})) == "text"
    with pytest.raises(ValueError, match="KLASTER_LOG_FORMAT"):
        Settings.from_env({"KLASTER_LOG_FORMAT": "xml"})


async def test_failover_store_answers_from_memory_while_redis_is_away() -> None:
    from litestar.stores.redis import RedisStore

    from web.resilience import FailoverStore

    dead = RedisStore.with_client(url="redis://127.0.0.1:9/0")  # nothing listens on port 9
    store = FailoverStore(dead, retry_seconds=60)
    await store.set("k", b"v", expires_in=60)
    assert await store.get("k") == b"v"
    assert store.degraded and await store.exists("k")
    await store.delete("k")
    assert await store.get("k") is None
    await dead._redis.aclose()


@pytest.mark.own_app  # it registers a route
async def test_server_errors_are_logged_and_rejections_are_not(
    client: Any, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    from litestar import get

    @get("/ops-test-boom", sync_to_thread=False)
    def boom() -> None:
        raise RuntimeError("boom")

    world.app.register(boom)
    headers = api_headers(client)
    with caplog.at_level(logging.INFO):
        assert client.get("/ops-test-boom").status_code == 500
        r = client.post("/api/v1/orders", json={"interval_id": 0}, headers=headers)
        assert r.status_code in (400, 422)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info and "ops-test-boom" in errors[0].getMessage()
    access = [r for r in caplog.records if r.name == "klaster.access"]
    assert any(getattr(r, "status", None) == 500 for r in access)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"KLASTER_LOG_FORMAT": "json"}, True),
        ({"KLASTER_LOG_FORMAT": "text"}, False),  # the demo's terminal stays quiet
        ({"KLASTER_LOG_FORMAT": "text", "KLASTER_ACCESS_LOG": "1"}, True),
        ({"KLASTER_LOG_FORMAT": "json", "KLASTER_ACCESS_LOG": "0"}, False),
    ],
)
def test_access_log_default_follows_the_log_format(env: dict[str, str], expected: bool) -> None:
    from litestar.config.app import AppConfig
    from litestar.middleware.base import DefineMiddleware

    from market.core.settings import Settings
    from web.ops import OpsPlugin, RequestMiddleware

    config = OpsPlugin(Settings.from_env(env), logging_setup=False).on_app_init(AppConfig())
    first = config.middleware[0]
    assert isinstance(first, DefineMiddleware) and first.middleware is RequestMiddleware
    assert first.kwargs["access_log"] is expected


def test_pages_show_paused_live_updates_when_told() -> None:
    """The badge in the header ("live updates paused" / "aktualizacje wstrzymane") follows the
    server's live_paused / live_resumed pushes and a failing /ready when a socket opens."""
    root = Path(__file__).resolve().parents[2] / "web"
    script = (root / "static" / "klaster.js").read_text()
    assert 'addEventListener("live:live_paused", function () { setLive("off"); })' in script
    assert 'addEventListener("live:live_resumed", function () { setLive("on"); })' in script
    assert 'fetch("/ready")' in script
    base = (root / "templates" / "base.html").read_text()
    assert 'id="live-status"' in base and '_("live updates paused")' in base
    assert json.loads((root / "locale" / "pl.json").read_text())["messages"]["live updates paused"]


def test_only_the_settings_module_reads_the_environment() -> None:
    import ast

    root = Path(__file__).resolve().parents[2]
    readers = []
    for package in ("market", "web"):
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                    readers.append(str(path.relative_to(root)))
    assert sorted(set(readers)) == ["market/core/settings.py"]


def test_settings_feed_the_web_knobs_the_worker_and_the_demo(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from market.clearing.operations import PrefixedPublisher, worker_publisher
    from market.core.settings import Settings
    from web.commands.demo import demo_settings
    from web.config import WebConfig

    env = {"KLASTER_CHANNEL_PREFIX": "t1.", "KLASTER_ORDER_RATE": "5/minute",
           "KLASTER_SECURE_COOKIES": "0", "KLASTER_METRICS_PORT": "9100"}  # fmt: skip
    settings = Settings.from_env(env)
    assert WebConfig.from_settings(settings) == WebConfig(
        secure_cookies=False, order_rate=("minute", 5), channel_prefix="t1."
    )
    assert settings.metrics_port == 9100 and settings.timezone == "Europe/Warsaw"
    publisher = worker_publisher(settings)
    assert isinstance(publisher, PrefixedPublisher) and publisher.prefix == "t1."
    with pytest.raises(ValueError, match="KLASTER_SIGNIN_RATE"):
        Settings.from_env({"KLASTER_SIGNIN_RATE": "lots"})

    # The demo's fast clock and plain-http cookies, unless the environment says otherwise;
    # the process environment itself is left alone.
    monkeypatch.delenv("KLASTER_DEMO_SPEED", raising=False)
    monkeypatch.setenv("KLASTER_SECURE_COOKIES", "1")
    demo = demo_settings(20.0)
    assert demo.demo_speed == 45.0 and demo.secure_cookies is True
    monkeypatch.setenv("KLASTER_DEMO_SPEED", "2")
    assert demo_settings(20.0).demo_speed == 2.0

    assert (
        os.environ["KLASTER_DEMO_SPEED"] == "2" and "KLASTER_IN_PROCESS_SCHEDULER" not in os.environ
    )
