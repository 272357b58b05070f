"""The real-browser journey (Chromium via Playwright's async API, Debian's chromium).

Alice signs in and places an offer; Bob, signed in in a second browser context, sees it in
the live order book without reloading; the gate closes and the interval clears; both see the
cleared price, and the fill appears on Alice's page. A screenshot of the live market page goes
to test-artifacts/.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.servers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, LiveServer
from tests.support.world import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.anyio]


async def place_bid_for_bob(server: LiveServer) -> None:
    """Bob's bid (0.60 PLN/kWh, 2 kWh) in the first open interval, through the service."""
    from market.access.actor import Actor
    from market.db.engine import create_engine, session_factory
    from market.trading import intervals, orders
    from market.trading.order_input import parse_order

    engine = create_engine(server.db_url)
    try:
        async with session_factory(engine)() as db:
            view = await intervals.list_intervals(db, server.clock)
            first = next(iv for iv in view.open if iv.accepting_orders)
            bob = Actor(server.ids["bob"], "member", "Bogdan Kowal")
            order = parse_order(
                {"interval_id": first.id, "metering_point_id": server.ids["bob_point"],
                 "side": "buy", "quantity_kwh": "2", "price": "0.60"}
            )  # fmt: skip
            await orders.place_order(db, bob, server.clock, order)
            await db.commit()
    finally:
        await engine.dispose()


async def sign_in(page: Any, base: str, login: str) -> None:
    await page.goto(base + "/login")
    await page.fill("#login", login)
    await page.fill("#password", PASSWORD)
    await page.press("#password", "Enter")  # keyboard-usable form
    await page.wait_for_url(lambda url: "/login" not in url)


async def test_offer_live_book_gate_and_fill(live_server: LiveServer) -> None:
    from playwright.async_api import async_playwright, expect

    await place_bid_for_bob(live_server)
    base = live_server.url
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            alice_ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
            bob_ctx = await browser.new_context(viewport={"width": 390, "height": 844})  # phone
            alice = await alice_ctx.new_page()
            bob = await bob_ctx.new_page()
            for page in (alice, bob):
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))

            await sign_in(alice, base, "alice")
            await sign_in(bob, base, "bob")
            await bob.goto(base + "/live")
            await expect(bob.locator("#live-status")).to_have_attribute("data-state", "on")
            await expect(bob.locator("#live-book")).to_contain_text("0,6000")  # Bob's own bid

            await alice.goto(base + "/my")
            await expect(alice.locator("#live-status")).to_have_attribute("data-state", "on")
            await alice.locator("#order-form label:has(input[value=sell])").click()
            await alice.fill("#of-qty", "1,5")
            await alice.fill("#of-price", "0,42")
            await alice.click("#order-form button[type=submit]")
            await expect(alice.locator("#order-form .alert.ok")).to_be_visible()
            await expect(alice.locator("#my-orders")).to_contain_text("0,4200")

            # Bob's live book shows the offer without a reload.
            await expect(bob.locator("#live-book .offers")).to_contain_text(
                "0,4200", timeout=10_000
            )
            await expect(bob.locator("#live-book .offers")).to_contain_text("1,500")

            # Let the gate close and the interval clear (the scheduler ticks every 0.2 s).
            await alice.goto(base + "/live")
            await expect(alice.locator("#live-status")).to_have_attribute("data-state", "on")
            await expect(alice.locator("#live-book .offers")).to_contain_text("0,4200")
            ARTIFACTS.mkdir(exist_ok=True)
            await alice.screenshot(path=str(ARTIFACTS / "live-market.png"), full_page=True)
            live_server.clock.advance(minutes=11)  # past the first gate only
            for page in (alice, bob):
                await expect(page.locator("#live-summary")).to_contain_text(
                    "rozliczony", timeout=15_000
                )
                await expect(page.locator("#live-cleared tbody tr")).to_have_count(1)
            price = await alice.locator("#live-summary .kpi dd.price").inner_text()
            assert price.strip() not in ("", "–")
            await expect(bob.locator("#live-summary")).to_contain_text(price.strip())
            await expect(alice.locator("#live-summary")).to_contain_text("1,5 kWh")

            await alice.screenshot(path=str(ARTIFACTS / "live-market-cleared.png"), full_page=True)
            await bob.screenshot(path=str(ARTIFACTS / "live-market-phone.png"), full_page=True)

            # The fill, on both members' own pages.
            await alice.goto(base + "/my")
            await expect(alice.locator("#my-fills tr.fill")).to_have_count(1)
            await expect(alice.locator("#my-fills")).to_contain_text("1,500")
            await bob.goto(base + "/my")
            await expect(bob.locator("#my-fills tr.fill")).to_have_count(1)
        finally:
            await browser.close()
    assert not errors, errors
