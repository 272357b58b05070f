"""Who is acting: sign-in by login and password, API tokens. Nothing here commits: the
request (or the caller's unit of work) does, so a rehashed password, a new token or a token's
last use is stored with it."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.actor import Actor, actor_of
from market.access.models import ApiToken, Member
from market.access.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from market.core.errors import NotAuthenticated, ValidationFailed

TOKEN_PREFIX = "klt_"


async def authenticate(session: AsyncSession, login: str, password: str) -> Actor:
    """The member with this login and password; `NotAuthenticated` otherwise (same message
    whether the login or the password was wrong)."""
    login = (login or "").strip()
    member = None
    if login:
        member = await session.scalar(select(Member).where(Member.login == login))
    if member is None or not member.password_hash:
        verify_password(dummy_hash(), password or "")
        raise NotAuthenticated("login", "wrong login or password")
    if not verify_password(member.password_hash, password or ""):
        raise NotAuthenticated("login", "wrong login or password")
    if not member.active:
        raise NotAuthenticated("login", "this account is deactivated; ask the coordinator")
    if needs_rehash(member.password_hash):
        member.password_hash = hash_password(password)
    return actor_of(member)


async def get_actor(session: AsyncSession, member_id: int) -> Actor:
    member = await session.get(Member, member_id)
    if member is None or not member.active:
        raise NotAuthenticated("member", "the account no longer exists or is deactivated")
    return actor_of(member)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_api_token(session: AsyncSession, actor: Actor, name: str) -> str:
    """A new bearer token for the actor; only its hash is stored, so show it once."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ValidationFailed("name", "give the token a name of 1 to 80 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(member_id=actor.member_id, name=name, token_hash=_token_hash(token)))
    audit.record(session, actor, "create", "api_token", name=name)
    await session.flush()
    return token


async def authenticate_token(session: AsyncSession, token: str) -> Actor:
    row = await session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _token_hash(token or ""))
    )
    if row is None or row.revoked:
        raise NotAuthenticated("token", "unknown or revoked API token")
    member = await session.get(Member, row.member_id)
    if member is None or not member.active:
        raise NotAuthenticated("token", "the token's account is deactivated")
    row.last_used_at = datetime.now(UTC)
    return actor_of(member)


async def revoke_api_tokens(session: AsyncSession, actor: Actor) -> int:
    rows = (
        await session.scalars(
            select(ApiToken).where(ApiToken.member_id == actor.member_id, ~ApiToken.revoked)
        )
    ).all()
    for row in rows:
        row.revoked = True
    await session.flush()
    return len(rows)
