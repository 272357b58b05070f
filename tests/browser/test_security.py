"""In a real Chromium: /schema renders Swagger UI with every other origin blocked and no
Content-Security-Policy violation; the htmx sign-in with a hostile `next` stays on the site."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.servers import CHROMIUM, CHROMIUM_ARGS, LiveServer
from tests.support.world import PASSWORD

pytestmark = [pytest.mark.anyio, pytest.mark.browser]


async def test_schema_works_offline_under_the_policy(live_server: LiveServer) -> None:
    from playwright.async_api import async_playwright, expect

    base = live_server.url
    errors: list[str] = []
    elsewhere: list[str] = []

    async def only_the_site(route: Any) -> None:
        if route.request.url.startswith(base):
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort()

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.route("**/*", only_the_site)
            await page.goto(base + "/schema")
            await expect(page.locator(".swagger-ui .info .title")).to_contain_text(
                "Klaster API", timeout=15_000
            )
            await expect(page.locator(".opblock").first).to_be_visible()
        finally:
            await browser.close()
    assert not elsewhere, elsewhere
    assert not errors, errors


@pytest.mark.parametrize("hostile", ["/%09/example.com", "//example.com", "/%5Cexample.com"])
async def test_sign_in_with_a_hostile_next_stays_on_the_site(
    live_server: LiveServer, hostile: str
) -> None:
    from playwright.async_api import async_playwright

    base = live_server.url
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.route(
                "**/*",
                lambda r: r.continue_() if r.request.url.startswith(base) else r.abort(),
            )
            await page.goto(base + "/login?next=" + hostile)
            await page.fill("#login", "alice")
            await page.fill("#password", PASSWORD)
            await page.click("#login-form button[type=submit]")
            await page.wait_for_url(base + "/my", timeout=10_000)
            assert page.url == base + "/my"
        finally:
            await browser.close()
