"""/api/v1 account: API tokens for programs, and who I am."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import get, post
from litestar.params import JSONBody

from market.access import auth as market_auth
from web.auth import signed_in
from web.deps import CurrentActor, Db
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


@post("/auth/token", middleware=[rate_limited("signin_limit")], status_code=201)
async def issue_token(db: Db, data: JSONBody[TokenRequest]) -> TokenResponse:
    """Exchange a login and password for a bearer token (shown once; keep it secret)."""
    actor = await market_auth.authenticate(db, data.login, data.password)
    token = await market_auth.create_api_token(db, actor, data.name)
    return TokenResponse(token=token, member_id=actor.member_id, role=actor.role, name=actor.name)


@get("/me", guards=[signed_in])
async def me(actor: CurrentActor) -> Me:
    """Who the token belongs to."""
    return Me(member_id=actor.member_id, role=actor.role, name=actor.name)


HANDLERS: list[Any] = [issue_token, me]
