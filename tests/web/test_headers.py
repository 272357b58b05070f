"""Security headers on every response; no inline script in any page; /schema works offline
(Swagger UI from our own static files, no other origin referenced)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.world import World, sign_in

pytestmark = pytest.mark.anyio

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)


def assert_security_headers(headers: Any) -> None:
    csp = headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives["object-src"] == ["'none'"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    "path",
    ["/login", "/api/v1/me", "/api/v1/no-such-thing", "/static/klaster.css", "/schema",
     "/schema/openapi.json", "/health", "/my"],
)  # fmt: skip
async def test_every_response_carries_the_security_headers(
    client: Any, world: World, path: str
) -> None:
    r = client.get(path, follow_redirects=False)
    assert r.status_code < 500
    assert_security_headers(r.headers)


async def test_pages_of_every_role_have_no_inline_script(client: Any, world: World) -> None:
    pages = {
        "alice": ["/my", "/live", "/results"],
        "coord": ["/coordinator/members", "/coordinator/tokens", "/coordinator/audit"],
        "dso": ["/distributor/"],
    }
    seen = 0
    for login, paths in pages.items():
        client.cookies.clear()
        sign_in(client, login)
        for path in paths:
            r = client.get(path)
            assert r.status_code == 200, (path, r.status_code)
            for attributes, body in SCRIPT.findall(r.text):
                assert "src=" in attributes and not body.strip(), (path, body[:80])
                seen += 1
            assert not re.search(r"\son[a-z]+=", r.text), f"inline event handler on {path}"
    assert seen > 0


def test_no_template_holds_an_inline_script() -> None:
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for attributes, body in SCRIPT.findall(text):
            assert "src=" in attributes and not body.strip(), template
        assert "<script" not in SCRIPT.sub("", text), template
        # inline handlers and htmx code (trigger filters, hx-on, js: values) run as inline
        # script or eval, which the policy forbids: the browser would refuse them
        assert not re.search(r"\son[a-z]+=", text), f"inline event handler in {template}"
        for trigger in re.findall(r'hx-trigger="([^"]*)"', text):
            assert "[" not in trigger, f"htmx trigger filter (eval) in {template}: {trigger}"
        assert "hx-on" not in text and "js:" not in text, template


async def test_schema_page_references_no_other_origin(client: Any, world: World) -> None:
    r = client.get("/schema")
    assert r.status_code == 200 and "swagger-ui" in r.text
    assert not re.search(r"(https?:)?//", r.text), "the page must work without the internet"
    assert SCRIPT.findall(r.text) and all(body.strip() == "" for _, body in SCRIPT.findall(r.text))
    assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    local = [a for a in assets if not a.startswith("data:")]
    assert len(local) >= 3
    for asset in local:
        assert asset.startswith("/static/"), asset
        served = client.get(asset)
        assert served.status_code == 200 and len(served.content) > 100, asset
    assert any(re.search(r"swagger-ui-bundle-\d+\.\d+\.\d+\.js$", a) for a in local)
    spec = re.search(r'data-spec-url="([^"]+)"', r.text)
    assert spec and client.get(spec.group(1)).json()["info"]["title"] == "Klaster API"
