"""Chromium checks of the outside check of branch `outside3` (2026-12-02): a long member name
wraps on a 390-px phone on every page that shows it (finding 10 of the branch's report)."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.test_journey import sign_in
from tests.support.servers import CHROMIUM, CHROMIUM_ARGS, LiveServer
from tests.support.world import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.anyio]

#: A cooperative's registered name: long words (a hyphenated one with no space at all).
LONG_NAME = (
    "Spółdzielnia Energetyczna Przedsiębiorstwa-Wodociągów-i-Kanalizacji-Gminy-Wielkie-"
    "Bardzo-Długie-Nazwisko Sp. z o.o."
)
#: The document wider than the window (sideways scrolling), or any element holding the name
#: wider than the window, or clipped (the header's name is cut with an ellipsis on purpose, and
#: carries the whole name as its title).
OVERFLOW = """(name) => {
  const wide = document.documentElement.scrollWidth > window.innerWidth;
  const over = [...document.querySelectorAll('body *')]
    .filter(e => e.children.length === 0 && e.textContent.includes(name.slice(0, 40))
                 && !e.closest('.table-wrap'))
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                 || (e.scrollWidth > e.clientWidth + 1 && e.title !== e.textContent))
    .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));
  return [wide, document.documentElement.scrollWidth, over];
}"""


async def _rename(base: str, member_id: int, name: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(
            base + "/api/v1/auth/token", json={"login": "coord", "password": PASSWORD}
        )
        assert r.status_code == 201, r.text
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        r = await http.patch(
            base + f"/api/v1/members/{member_id}", json={"name": name}, headers=headers
        )
        assert r.status_code == 200, r.text


async def test_a_long_member_name_wraps_on_a_phone(live_server: LiveServer) -> None:
    from playwright.async_api import async_playwright

    base = live_server.url
    alice = live_server.ids["alice"]
    await _rename(base, alice, LONG_NAME)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 390, "height": 844})
            page = await context.new_page()
            await sign_in(page, base, "coord")
            for path in (
                f"/coordinator/members/{alice}",
                "/coordinator/members",
                "/coordinator/points",
                "/statement",  # the member chooser
                f"/statement?member={alice}",
                "/coordinator/audit",
            ):
                await page.goto(base + path)
                wide, width, over = await page.evaluate(OVERFLOW, LONG_NAME)
                assert not wide and not over, (path, width, over)
            member = await browser.new_context(viewport={"width": 390, "height": 844})
            mine = await member.new_page()
            await sign_in(mine, base, "alice")
            for path in ("/my", "/statement", "/account/tokens"):
                await mine.goto(base + path)
                wide, width, over = await mine.evaluate(OVERFLOW, LONG_NAME)
                assert not wide and not over, (path, width, over)
        finally:
            await browser.close()
