"""Sign in, sign out, language switch."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from market.access import auth as market_auth
from web.auth import SESSION_KEY, actor_to_session
from web.deps import Db
from web.pages.forms import LoginForm, NextParam
from web.ratelimit import rate_limited
from web.ui.i18n import LANG_COOKIE, LOCALES
from web.ui.render import expect_form, render


def safe_next(target: str | None) -> str:
    """Only local paths: an open redirect would make the sign-in page a phishing aid."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def home_for(role: str) -> str:
    return {"coordinator": "/coordinator", "distributor": "/distributor"}.get(role, "/my")


@get("/", include_in_schema=False)
async def index(request: HTMXRequest) -> Redirect:
    actor = request.scope.get("user")
    return Redirect(home_for(str(actor.role)) if actor else "/login")


@get("/login", include_in_schema=False)
async def login_page(request: HTMXRequest, next_: NextParam = None) -> Template:
    return render(request, "login.html", next=safe_next(next_))


@post("/login", include_in_schema=False, middleware=[rate_limited("signin_limit")])
async def login(request: HTMXRequest, db: Db, data: URLEncodedBody[LoginForm]) -> Response[Any]:
    expect_form(request, "_login_form.html", login=data.login, next=safe_next(data.next))
    actor = await market_auth.authenticate(db, data.login, data.password)
    request.set_session({SESSION_KEY: actor_to_session(actor)})
    target = data.next if data.next and data.next != "/" else home_for(str(actor.role))
    if request.headers.get("hx-request") == "true":
        return Response(content="", headers={"HX-Redirect": safe_next(target)})
    return Redirect(safe_next(target))


@post("/logout", include_in_schema=False, status_code=303)
async def logout(request: HTMXRequest) -> Redirect:
    request.clear_session()
    return Redirect("/login", status_code=303)


@get("/lang/{code:str}", include_in_schema=False)
async def switch_language(code: FromPath[str], next_: NextParam = None) -> Redirect:
    response = Redirect(safe_next(next_))
    if code in LOCALES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", httponly=True)
    return response
