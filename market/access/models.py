"""Members (accounts and their roles), API tokens and the append-only audit log (UPDATE and
DELETE on the log are refused by database triggers)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from market.db.base import Base, check_in, utcnow


class MemberKind(StrEnum):
    HOUSEHOLD = "household"
    BUSINESS = "business"
    MUNICIPAL = "municipal"
    UTILITY = "utility"
    GENERATOR = "generator"
    STORAGE = "storage"
    OPERATOR = "operator"  # coordinator's or distributor's own account


class Role(StrEnum):
    MEMBER = "member"
    COORDINATOR = "coordinator"
    DISTRIBUTOR = "distributor"


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint(check_in("kind", MemberKind), name="kind"),
        CheckConstraint(check_in("role", Role), name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16), default=Role.MEMBER.value)
    login: Mapped[str | None] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    #: Counterparties see this member's name (otherwise only its node).
    show_name: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Bumped whenever what the member may do changes (deactivation, password, role): every
    #: session and token carries the version it was issued under and stops working with it
    #: (`market.access.credentials`).
    credential_version: Mapped[int] = mapped_column(default=1, server_default="1")


class ApiToken(Base):
    """Bearer tokens for programs; only a hash of the token is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    #: After this moment the token no longer works (None: tokens issued before expiry existed).
    expires_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(default=False)
    revoked_at: Mapped[datetime | None]
    #: The member's credential version when the token was issued: a later deactivation,
    #: password or role change ends the token too.
    credential_version: Mapped[int] = mapped_column(default=1, server_default="1")


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: Who acted (NULL: the system, e.g. the scheduler). No foreign key: the log outlives rows.
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(200), default="system")
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    interval_id: Mapped[int | None] = mapped_column(Integer, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
