"""Sign in, sign out, language switch."""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from litestar import Response, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from market.access import auth as market_auth
from web.auth import end_session, start_session, throttle_account
from web.config import app_services
from web.deps import Db
from web.pages.forms import LoginForm, NextParam
from web.ratelimit import enforce
from web.ui.i18n import LANG_COOKIE, LOCALES
from web.ui.render import expect_form, render

#: Characters left as they are when a `next` path is re-quoted (RFC 3986 path, query, `%`).
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text)


def safe_next(target: str | None) -> str:
    """Only same-origin relative paths, normalised; anything else is "/".

    An open redirect would make the sign-in page a phishing aid. Browsers drop tabs and line
    breaks from URLs and read `\\` as `/`, so `/\t/evil` or `/\\evil` would become `//evil`
    (another host): control characters, backslashes, `//` and schemes are refused, raw or
    percent-encoded, and what is left is normalised (`/a/./b/../c` → `/a/c`)."""
    if not target or not target.startswith("/"):
        return "/"
    decoded = unquote(target)
    for text in (target, decoded):
        if _has_control(text) or "\\" in text or text.startswith("//"):
            return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    path = posixpath.normpath(unquote(parts.path))
    if not path.startswith("/") or path.startswith("//"):
        return "/"
    if parts.path.endswith("/") and path != "/":
        path += "/"
    result = quote(path, safe=_PATH_SAFE)
    if parts.query:
        result += "?" + quote(parts.query, safe=_QUERY_SAFE)
    return result


def home_for(role: str) -> str:
    return {"coordinator": "/coordinator", "distributor": "/distributor"}.get(role, "/my")


@get("/", include_in_schema=False)
async def index(request: HTMXRequest) -> Redirect:
    actor = request.scope.get("user")
    return Redirect(home_for(str(actor.role)) if actor else "/login")


@get("/login", include_in_schema=False)
async def login_page(request: HTMXRequest, next_: NextParam = None) -> Template:
    return render(request, "login.html", next=safe_next(next_))


@post("/login", include_in_schema=False)
async def login(request: HTMXRequest, db: Db, data: URLEncodedBody[LoginForm]) -> Response[Any]:
    expect_form(request, "_login_form.html", login=data.login, next=safe_next(data.next))
    # the address's limit here, not as middleware: a refused attempt (429) keeps the form and
    # what was typed, with the message in its error box
    services = app_services(request.app)
    await enforce(services, services.signin_limit, services.signin_limit.key_for(request.scope))
    await throttle_account(request, data.login)
    actor = await market_auth.authenticate(db, data.login, data.password)
    wanted = safe_next(data.next)
    target = wanted if wanted != "/" else home_for(str(actor.role))
    response: Response[Any]
    if request.headers.get("hx-request") == "true":
        response = Response(content="", headers={"HX-Redirect": target})
    else:
        response = Redirect(target)
    start_session(request, response, actor)
    return response


@post("/logout", include_in_schema=False, status_code=303)
async def logout(request: HTMXRequest) -> Redirect:
    response = Redirect("/login", status_code=303)
    end_session(request, response)
    return response


@get("/lang/{code:str}", include_in_schema=False)
async def switch_language(code: FromPath[str], next_: NextParam = None) -> Redirect:
    response = Redirect(safe_next(next_))
    if code in LOCALES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", httponly=True)
    return response
