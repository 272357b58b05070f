"""/api/v1 account: API tokens for programs, and who I am."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from market.access import auth as market_auth
from market.access.auth import TokenView
from web.api.responses import error_spec
from web.auth import signed_in, throttle_account
from web.deps import CurrentActor, Db, SettingsDep
from web.ratelimit import rate_limited


@dataclass
class TokenRequest:
    login: str
    password: str
    name: str = "api"


@dataclass
class TokenResponse:
    token: str
    member_id: int
    role: str
    name: str


@dataclass
class Me:
    member_id: int
    role: str
    name: str


@post(
    "/auth/token",
    middleware=[rate_limited("signin_limit")],
    status_code=201,
    responses={401: error_spec(401, "Wrong login or password, or the account is deactivated.")},
)
async def issue_token(
    request: Request[Any, Any, Any], db: Db, settings: SettingsDep, data: JSONBody[TokenRequest]
) -> TokenResponse:
    """Exchange a login and password for a bearer token (shown once; keep it secret). It works
    for `KLASTER_TOKEN_DAYS` (90 by default) unless revoked earlier."""
    await throttle_account(request, data.login)
    actor = await market_auth.authenticate(db, data.login, data.password)
    token = await market_auth.create_api_token(db, actor, data.name, days=settings.token_days)
    return TokenResponse(token=token, member_id=actor.member_id, role=actor.role, name=actor.name)


@get("/me", guards=[signed_in])
async def me(actor: CurrentActor) -> Me:
    """Who the token belongs to."""
    return Me(member_id=actor.member_id, role=actor.role, name=actor.name)


@get("/tokens", guards=[signed_in])
async def list_tokens(
    db: Db, actor: CurrentActor, everyone: FromQuery[bool] = False
) -> list[TokenView]:
    """My API tokens (name, created, expires, last used, revoked), newest first; the
    coordinator lists everyone's with `?everyone=true`."""
    return await market_auth.list_api_tokens(db, actor, everyone=everyone)


@delete("/tokens/{token_id:int}", guards=[signed_in], status_code=200)
async def revoke_token(db: Db, actor: CurrentActor, token_id: FromPath[int]) -> TokenView:
    """Revoke a token: my own, or (the coordinator) anyone's. It stops working on every app
    process within a second. Someone else's token answers 404, as an unknown id."""
    return await market_auth.revoke_api_token(db, actor, token_id)


HANDLERS: list[Any] = [issue_token, me, list_tokens, revoke_token]
