"""Who is acting: sign-in by login and password, API tokens. Nothing here commits: the
request (or the caller's unit of work) does, so a rehashed password, a new token or a token's
last use is stored with it."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.actor import Actor, actor_of, require_role
from market.access.credentials import REHASHED
from market.access.models import ApiToken, Member, Role
from market.access.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from market.core.errors import NotAuthenticated, NotFound, ValidationFailed

TOKEN_PREFIX = "klt_"
DEFAULT_TOKEN_DAYS = 90


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
        # The same password in a newer hash: not a credential change (sessions stay valid).
        session.info.setdefault(REHASHED, set()).add(member.id)
        member.password_hash = hash_password(password)
    return actor_of(member)


async def get_actor(session: AsyncSession, member_id: int) -> Actor:
    member = await session.get(Member, member_id)
    if member is None or not member.active:
        raise NotAuthenticated("member", "the account no longer exists or is deactivated")
    return actor_of(member)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_api_token(
    session: AsyncSession,
    actor: Actor,
    name: str,
    *,
    now: datetime | None = None,
    days: int = DEFAULT_TOKEN_DAYS,
) -> str:
    """A new bearer token for the actor, valid for `days`; only its hash is stored, so show
    it once."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ValidationFailed("name", "give the token a name of 1 to 80 characters")
    issued = now or datetime.now(UTC)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            member_id=actor.member_id,
            name=name,
            token_hash=token_hash(token),
            created_at=issued,
            expires_at=issued + timedelta(days=days),
            credential_version=actor.credential_version,
        )
    )
    audit.record(session, actor, "create", "api_token", name=name)
    await session.flush()
    return token


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A valid token: who it acts for, until when, and its id (revocations name the id)."""

    token_id: int
    actor: Actor
    expires_at: datetime | None

    @property
    def member_id(self) -> int:
        return self.actor.member_id


async def authenticate_token(
    session: AsyncSession, token: str, *, now: datetime | None = None
) -> TokenGrant:
    """The grant of a valid token (stamping its last use); `NotAuthenticated` when it is
    unknown, revoked, expired or its member deactivated."""
    now = now or datetime.now(UTC)
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked:
        raise NotAuthenticated("token", "unknown or revoked API token")
    if row.expires_at is not None and row.expires_at <= now:
        raise NotAuthenticated("token", "this API token has expired")
    member = await session.get(Member, row.member_id)
    if member is None or not member.active:
        raise NotAuthenticated("token", "the token's account is deactivated")
    if row.credential_version != member.credential_version:
        raise NotAuthenticated("token", "unknown or revoked API token")
    row.last_used_at = now
    return TokenGrant(row.id, actor_of(member), row.expires_at)


@dataclass(frozen=True, slots=True)
class TokenView:
    id: int
    member_id: int
    member_name: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked: bool
    revoked_at: datetime | None


def _view(row: ApiToken, member_name: str) -> TokenView:
    return TokenView(
        id=row.id,
        member_id=row.member_id,
        member_name=member_name,
        name=row.name,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked=row.revoked,
        revoked_at=row.revoked_at,
    )


async def list_api_tokens(
    session: AsyncSession, actor: Actor, *, everyone: bool = False
) -> list[TokenView]:
    """The actor's own tokens, newest first; `everyone=True` (the coordinator only): all."""
    query = select(ApiToken, Member.name).join(Member, Member.id == ApiToken.member_id)
    if everyone:
        require_role(actor, Role.COORDINATOR)
    else:
        query = query.where(ApiToken.member_id == actor.member_id)
    rows = (await session.execute(query.order_by(ApiToken.id.desc()))).all()
    return [_view(t, name) for t, name in rows]


async def revoke_api_token(
    session: AsyncSession, actor: Actor, token_id: int, *, now: datetime | None = None
) -> TokenView:
    """Revoke one token: a member its own, the coordinator anyone's. Someone else's token
    answers as an unknown id."""
    row = await session.get(ApiToken, token_id)
    if row is None or (row.member_id != actor.member_id and not actor.is_coordinator):
        raise NotFound("token_id", "no API token %(id)s", id=token_id)
    if not row.revoked:
        row.revoked = True
        row.revoked_at = now or datetime.now(UTC)
        audit.record(session, actor, "revoke", "api_token", row.id, member_id=row.member_id)
        await session.flush()
    member = await session.get(Member, row.member_id)
    return _view(row, member.name if member else "")


async def revoke_api_tokens(session: AsyncSession, actor: Actor) -> int:
    rows = (
        await session.scalars(
            select(ApiToken).where(ApiToken.member_id == actor.member_id, ~ApiToken.revoked)
        )
    ).all()
    now = datetime.now(UTC)
    for row in rows:
        row.revoked = True
        row.revoked_at = now
    await session.flush()
    return len(rows)
