"""Every page for every role, in Chromium, at 1280 and 390 px (issue 16).

The pages are not listed here: they are the app's own GET routes (`LiveServer.app.routes`), so
a page added anywhere is swept without touching this file. Each route is probed for each role
(anonymous, member, coordinator, distributor) over HTTP with the role's cookies: a full HTML
document is opened in the browser and checked, a fragment or a download is only checked for
its status, and a refusal (401/403, a redirect to the sign-in page) means the page is not that
role's. A route nobody may open, or that answers an allowed role with another error, fails the
sweep with what to seed or fix. Path parameters take the ids `seed` returns; a route
with a required query takes it from `QUERIES`.

On every opened page, at both widths: no horizontal overflow (`scrollWidth ≤ innerWidth`), no
console error, no failed request (status ≥ 400 or a request that failed, except what
`INTENDED` allows), no English on the Polish page (the message catalogue's English ids and a
list of English words, minus the seeded data's own names, code and the language switch), and
no serious or critical violation found by axe-core (vendored in tests/browser/vendor/; its
colour-contrast rule, the slowest, at the narrow width only). The member's pages are also
checked for overflow at 360 px; pages in `EXPECT` must show what they promise (an empty month
its empty state). A page anonymous visitors see is swept once, as theirs. Screenshots go to
test-artifacts/sweep/ (or $KLASTER_ARTIFACTS/sweep/), the findings to findings.txt there; all
findings are reported together.

One server, one browser, one context per role (the signed-in roles side by side).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_journey import place_bid_for_bob, sign_in
from tests.support.clusters import WEB
from tests.support.servers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.anyio]

ROOT = Path(__file__).resolve().parents[2]
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
CATALOGUE: dict[str, str] = json.loads((ROOT / "web/locale/pl.json").read_text("utf-8"))["messages"]
WIDTHS = (1280, 390)
#: Member pages are used on phones: no sideways scrolling down to this width either.
PHONE = 360
SHOTS = ARTIFACTS / "sweep"
ROLES = ("anonymous", "alice", "coord", "dso")  # alice: a prosumer (PV), the member role

#: Routes that are not pages: the API, files, the socket, operations, the language switch and
#: Swagger UI (an English third-party page, checked in test_security.py).
NOT_PAGES = ("/api/", "/static/", "/schema", "/ws/", "/lang/", "/health", "/ready", "/metrics")
#: Required query parameters of pages, by route path.
QUERIES = {
    "/statement/day": "day=2026-06-15",
    "/distributor/export": "start=2026-06&format=csv",
    "/coordinator/simulations/compare": "a=1&b=2",  # the two runs `seed` imports
}
#: Further addresses worth a look besides the routes: empty months, a filtered list, a 404.
EXTRA = (
    "/statement?month=2020-01",
    "/reports?start=2020-01",
    "/results?day=2020-01-01",
    "/coordinator/audit?entity=order",
    "/no-such-page",
)
#: What some pages must show (a CSS selector): an empty month is an empty state, not an error.
EXPECT = {
    # (staff first choose the member: a statement is a member's)
    "/statement?month=2020-01": ".empty-state, #member-chooser",
    "/reports?start=2020-01": ".empty-state",
    "/my/notifications": ".stored-notices li",
}
#: Requests a page makes on purpose that answer ≥ 400: (path, status).
INTENDED = {("/no-such-page", 404)}

#: Catalogue words that are Polish words too (or loanwords) and may stand in Polish text.
POLISH_TOO = {"Data", "Import", "No.", "Per", "Role", "role", "generator", "set", "met", "at", "to"}
#: English words that never belong in Polish text (none of them a Polish word).
ENGLISH = {
    *("the", "and", "of", "must", "with", "your", "you", "from", "has", "have", "not", "this"),
    *("that", "which", "when", "should", "cannot", "please", "between", "than", "are", "is"),
    *("was", "were", "been", "be", "an", "or", "for", "into", "there", "only", "it", "its"),
    *("if", "but", "any", "error", "invalid"),
}
#: The seeded data's own names: data, not interface text.
DATA_NAMES = sorted(
    {WEB.cluster["name"], WEB.cluster["coordinator_name"]}
    | {n.name for n in WEB.nodes}
    | {str(ln.name) for ln in WEB.lines if ln.name}
    | {m.name for m in WEB.members}
    | {str(p.columns.get("name")) for p in WEB.points if p.columns.get("name")},
    key=len,
    reverse=True,
)

VISIBLE_TEXT = """() => {
  const skip = 'code, pre, kbd, samp, script, style, [hreflang], [data-sweep-skip]';
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest(skip)) continue;
    if (!el.checkVisibility || !el.checkVisibility()) continue;
    if (n.textContent.trim()) texts.push(n.textContent.trim());
  }
  for (const el of document.querySelectorAll('[aria-label], [title], [placeholder], [alt]')) {
    if (el.closest(skip)) continue;
    for (const a of ['aria-label', 'title', 'placeholder', 'alt']) {
      const v = el.getAttribute(a);
      if (v) texts.push(v);
    }
  }
  texts.push(document.title);
  return texts.join('\\n');
}"""
OVERFLOW = """() => {
  const over = document.documentElement.scrollWidth - window.innerWidth;
  if (over <= 0) return null;
  const wide = [...document.querySelectorAll('body *')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.right > window.innerWidth + 1 && !e.closest('.table-wrap');
  }).slice(0, 4).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ')[0] : '')
    + ' ' + Math.round(e.getBoundingClientRect().right));
  return document.documentElement.scrollWidth + ' > ' + window.innerWidth + ': ' + wide.join(', ');
}"""
FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
#: axe-core's scan; `contrast` false leaves out its slowest rule (colour contrast, which the
#: layout does not change: it runs at the narrow width, where the phone layout's colours are).
AXE_RUN = """async (contrast) => {
  const rules = contrast ? {} : {'color-contrast': {enabled: false}};
  const r = await axe.run(document, {resultTypes: ['violations'], rules});
  return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.impact + ' ' + v.id + ': ' + v.nodes.slice(0, 3)
      .map(n => n.target.join(' ')).join(' | ') + (v.nodes.length > 3 ? ' …' : ''));
}"""


def _phrase(key: str) -> re.Pattern[str]:
    parts = re.split(r"%\(\w+\)s", key)
    return re.compile(r".{1,60}?".join(re.escape(p) for p in parts))


#: Catalogue ids of two words or more whose Polish differs: shown as is, they are English.
PHRASES = [
    _phrase(k)
    for k, v in CATALOGUE.items()
    if "|" not in k and k != v and len(re.sub(r"%\(\w+\)s", "", k).split()) >= 2
]
WORDS = {
    k for k, v in CATALOGUE.items() if " " not in k.strip() and k != v and "|" not in k
} - POLISH_TOO


def english_in(text: str) -> list[str]:
    """English found in a Polish page's text (after the data's own names are removed)."""
    for name in DATA_NAMES:
        text = text.replace(name, " ")
    found = {m.group(0) for p in PHRASES for m in p.finditer(text)}
    tokens = set(re.findall(r"[^\W\d_]+(?:\.(?=\s|$))?", text))
    found |= (tokens & WORDS) | {t for t in tokens if t.lower() in ENGLISH}
    return sorted(found)


@dataclass
class Sweep:
    base: str
    found: list[str] = field(default_factory=list)
    pages: int = 0

    def add(self, where: str, what: Iterable[str]) -> None:
        self.found.extend(f"{where}: {w}" for w in what)


@dataclass
class Watch:
    """What a page logged or failed to load since `reset`."""

    errors: list[str] = field(default_factory=list)
    inflight: set[Any] = field(default_factory=set)

    def attach(self, page: Any) -> None:
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught {e}"))
        page.on("request", lambda r: self.inflight.add(r))
        page.on("requestfinished", lambda r: self.inflight.discard(r))

        def failed(request: Any) -> None:
            self.inflight.discard(request)
            # the browser cancelling what a page left behind when the sweep moves on (the
            # socket's /ready check, say) is not a failure of the site
            if "ERR_ABORTED" not in str(request.failure):
                self.errors.append(f"request failed {request.url} ({request.failure})")

        def answered(response: Any) -> None:
            path = response.url.split("://", 1)[-1].split("/", 1)[-1]
            if response.status >= 400 and ("/" + path, response.status) not in INTENDED:
                self.errors.append(f"{response.status} {response.url}")

        page.on("requestfailed", failed)
        page.on("response", answered)

    async def settle(self, page: Any) -> None:
        """Until the page's own requests (htmx loads on `load`, say) are answered."""
        for _ in range(100):
            await page.wait_for_timeout(60)
            if not self.inflight:
                return


def page_paths(app: Any, ids: dict[str, int]) -> tuple[list[str], list[str]]:
    """(addresses to probe, problems): every GET route of the app that is not in `NOT_PAGES`,
    its path parameters filled from `ids`, its required query from `QUERIES`."""
    paths: list[str] = []
    problems: list[str] = []
    for route in app.routes:
        handlers = getattr(route, "route_handlers", None) or []
        if not any("GET" in getattr(h, "http_methods", ()) for h in handlers):
            continue
        template = route.path
        if template.startswith(NOT_PAGES) or template in NOT_PAGES:
            continue
        missing = [p for p in re.findall(r"\{(\w+):\w+\}", template) if p not in ids]
        if missing:
            problems.append(f"{template}: no seeded id for {missing} (return one from seed())")
            continue
        path = re.sub(r"\{(\w+):\w+\}", lambda m: str(ids[m.group(1)]), template)
        query = QUERIES.get(template)
        paths.append(f"{path}?{query}" if query else path)
    return paths, problems


async def seed(server: LiveServer) -> dict[str, int]:
    """A market with something on every page: Bob's bid and Alice's offer cleared in the first
    interval (fills, a result, a statement), an order of Alice's still open in the second, and
    a standing order of hers. The path ids of `page_paths`."""
    from sqlalchemy import select

    from market.access.actor import Actor
    from market.core.errors import MarketHalted
    from market.db.engine import create_engine, session_factory
    from market.simulation.runs import import_result
    from market.trading import intervals, notifications, orders, standing
    from market.trading.models import Interval
    from market.trading.order_input import parse_order, parse_standing

    await place_bid_for_bob(server)
    alice = Actor(server.ids["alice"], "member", "Alicja Nowak")
    point = server.ids["alice_point"]
    engine = create_engine(server.db_url)
    try:
        async with session_factory(engine)() as db:
            view = await intervals.list_intervals(db, server.clock)
            first, second = [iv for iv in view.open if iv.accepting_orders][:2]

            def order(iv: int, side: str, qty: str, price: str) -> Any:
                return parse_order({"interval_id": iv, "metering_point_id": point, "side": side,
                                    "quantity_kwh": qty, "price": price})  # fmt: skip

            offer = order(first.id, "sell", "1.5", "0.42")
            await orders.place_order(db, alice, server.clock, offer)
            placed = await orders.place_order(
                db, alice, server.clock, order(second.id, "sell", "1", "0.45")
            )
            rule = {"metering_point_id": point, "side": "sell", "quantity_kwh": "0.5",
                    "price": "0.40", "hour_from": "20", "hour_to": "22"}  # fmt: skip
            made = await standing.create_standing_order(
                db, alice, server.clock, parse_standing(rule)
            )
            refused = MarketHalted("", "the market is halted: %(reason)s", reason="przegląd")
            await notifications.record_rejections(
                db, [(alice.member_id, made.id, second.id, refused)]
            )
            coordinator = Actor(server.ids["coord"], "coordinator", "Koordynator")
            for name in ("founding", "battery-2mwh"):  # two simulation runs to compare
                result = ROOT / "tests" / "support" / "simulation" / f"{name}-2026-06-01.json"
                await import_result(db, coordinator, result.name, result.read_bytes())
            await db.commit()
        server.clock.advance(minutes=11)  # past the first gate: the scheduler clears it
        for _ in range(150):
            async with session_factory(engine)() as db:
                status = await db.scalar(select(Interval.status).where(Interval.id == first.id))
            if status == "cleared":
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the first interval did not clear")
    finally:
        await engine.dispose()
    return {
        "order_id": placed.view.id,
        "interval_id": first.id,
        "member_id": server.ids["alice"],
        "point_id": point,
    }


async def probe(context: Any, url: str) -> tuple[str, str]:
    """('page' | 'part' (a fragment or a file) | 'refused' | 'error', detail): the status, or
    where a redirect sends the browser."""
    r = await context.request.get(url, max_redirects=0, fail_on_status_code=False)
    location = r.headers.get("location", "")
    if r.status in (401, 403) or (300 <= r.status < 400 and "/login" in location):
        return "refused", str(r.status)
    if 300 <= r.status < 400:
        return "page", location  # a page that sends on (/ → the role's home)
    if r.status >= 400:
        return "error", str(r.status)
    body = await r.text() if "text/html" in r.headers.get("content-type", "") else ""
    return ("page" if "<html" in body[:500].lower() else "part"), ""


async def check_page(sweep: Sweep, page: Any, watch: Watch, role: str, path: str) -> None:
    watch.errors.clear()
    response = await page.goto(sweep.base + path)
    await watch.settle(page)
    status = response.status if response else 0
    final = page.url.removeprefix(sweep.base)
    where = f"{role} {path}" + (f" (→ {final})" if final != path else "")
    if status >= 400 and (path, status) not in INTENDED:
        sweep.add(where, [f"status {status}"])
    slug = re.sub(r"[^a-z0-9]+", "-", f"{role}{path}".lower()).strip("-")
    for width in WIDTHS:
        if page.viewport_size["width"] != width:
            await page.set_viewport_size({"width": width, "height": 900})
            await page.evaluate(FRAMES)  # the page's own resize handlers have run
        here = f"{where} @{width}"
        overflow = await page.evaluate(OVERFLOW)
        if overflow:
            sweep.add(here, [f"horizontal overflow {overflow}"])
        if await page.evaluate("() => document.documentElement.lang") == "pl":
            text = await page.evaluate(VISIBLE_TEXT)
            sweep.add(here, [f"English {e!r}" for e in english_in(text)])
        sweep.add(here, await page.evaluate(AXE_RUN, width == WIDTHS[-1]))
        await page.screenshot(path=str(SHOTS / f"{slug}-{width}.png"), full_page=True)
    if role == "alice":
        await page.set_viewport_size({"width": PHONE, "height": 780})
        await page.evaluate(FRAMES)
        overflow = await page.evaluate(OVERFLOW)
        if overflow:
            sweep.add(f"{where} @{PHONE}", [f"horizontal overflow {overflow}"])
    if path in EXPECT and not await page.locator(EXPECT[path]).count():
        sweep.add(where, [f"shows no {EXPECT[path]}"])
    sweep.add(where, sorted(set(watch.errors)))
    sweep.pages += 1


async def sweep_role(
    sweep: Sweep, browser: Any, role: str, paths: list[str], public: set[str]
) -> set[str]:
    """Sweep the pages `role` may open (but those anonymous visitors see, swept once as
    theirs); the addresses the role may open."""
    viewport = {"width": WIDTHS[0], "height": 900}
    context = await browser.new_context(viewport=viewport, locale="pl-PL")
    await context.add_init_script(AXE)  # as the browser's own script: the page's CSP holds
    page = await context.new_page()
    watch = Watch()
    watch.attach(page)
    opened: set[str] = set()
    try:
        if role != "anonymous":
            await sign_in(page, sweep.base, role)
        for path in paths:
            kind, detail = await probe(context, sweep.base + path)
            if kind == "error" and (path, int(detail)) not in INTENDED:
                sweep.add(f"{role} {path}", [f"status {detail}"])
                continue
            if kind == "refused":
                continue
            opened.add(path)
            if kind == "page" and path not in public and detail not in paths:
                await check_page(sweep, page, watch, role, path)
    finally:
        await context.close()
    return opened


async def test_every_page_for_every_role_at_two_widths(live_server: LiveServer) -> None:
    from playwright.async_api import async_playwright

    ids = await seed(live_server)
    SHOTS.mkdir(parents=True, exist_ok=True)
    routes, problems = page_paths(live_server.app, ids)
    paths = [*routes, *EXTRA]
    sweep = Sweep(live_server.url, found=list(problems))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            public = await sweep_role(sweep, browser, ROLES[0], paths, set())
            opened = set(public).union(
                *await asyncio.gather(
                    *(sweep_role(sweep, browser, role, paths, public) for role in ROLES[1:])
                )
            )
        finally:
            await browser.close()
    sweep.add("nobody may open", [p for p in routes if p not in opened])
    (SHOTS / "findings.txt").write_text("\n".join(sorted(sweep.found)) + "\n")
    assert sweep.pages >= 20, sweep.pages  # the routes were found and opened
    assert not sweep.found, f"{len(sweep.found)} findings:\n" + "\n".join(sorted(sweep.found))
