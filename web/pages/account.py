"""API tokens on the pages: a member lists and revokes their own (a section of /my), the
coordinator everyone's (/coordinator/tokens)."""

from __future__ import annotations

from litestar import get, post
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from market.access import auth as market_auth
from web.auth import requires_role, signed_in
from web.deps import CurrentActor, Db
from web.ui.render import page, render

TOKENS = "account/_tokens.html"
coordinator_only = [requires_role("coordinator")]


@get("/account/tokens", guards=[signed_in], include_in_schema=False)
async def my_tokens(request: HTMXRequest, db: Db, actor: CurrentActor) -> Template:
    """The signed-in member's tokens (a fragment the API-access section loads)."""
    tokens = await market_auth.list_api_tokens(db, actor)
    return render(request, TOKENS, tokens=tokens, everyone=False)


@post("/account/tokens/{token_id:int}/revoke", guards=[signed_in], include_in_schema=False)
async def revoke_my_token(
    request: HTMXRequest, db: Db, actor: CurrentActor, token_id: FromPath[int]
) -> Template:
    await market_auth.revoke_api_token(db, actor, token_id)
    tokens = await market_auth.list_api_tokens(db, actor)
    return render(request, TOKENS, tokens=tokens, everyone=False)


@get("/coordinator/tokens", guards=coordinator_only, include_in_schema=False)
async def all_tokens(request: HTMXRequest, db: Db, actor: CurrentActor) -> Template:
    tokens = await market_auth.list_api_tokens(db, actor, everyone=True)
    return page(
        request, "account/tokens.html", TOKENS, tokens=tokens, everyone=True, section="coordinator"
    )


@post("/coordinator/tokens/{token_id:int}/revoke", guards=coordinator_only, include_in_schema=False)
async def revoke_any_token(
    request: HTMXRequest, db: Db, actor: CurrentActor, token_id: FromPath[int]
) -> Template:
    await market_auth.revoke_api_token(db, actor, token_id)
    tokens = await market_auth.list_api_tokens(db, actor, everyone=True)
    return render(request, TOKENS, tokens=tokens, everyone=True)


HANDLERS = [my_tokens, revoke_my_token, all_tokens, revoke_any_token]
