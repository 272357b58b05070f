"""Credential versions on members and tokens; expiry and revocation time on API tokens.

Revision ID: 0008_sec_auth_credentials
Revises: 0007_statutory
Create Date: 2026-11-30 12:10:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_sec_auth_credentials"
down_revision: str | None = "0007_statutory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(
            sa.Column("credential_version", sa.Integer(), server_default="1", nullable=False)
        )
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("credential_version", sa.Integer(), server_default="1", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("credential_version")
        batch.drop_column("revoked_at")
        batch.drop_column("expires_at")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("credential_version")
