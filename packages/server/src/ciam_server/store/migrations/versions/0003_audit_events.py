"""Audit events: codes sent and refused, resets done and refused.

Revision ID: 0003
Revises: 0002
Create Date: 2026-05-11
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Stored as timestamptz on PostgreSQL and as naive UTC text on SQLite (see tables.UtcDateTime).
_UTC_DATETIME = sa.DateTime(timezone=True)

# BIGSERIAL on PostgreSQL; on SQLite only INTEGER PRIMARY KEY autoincrements (and is 64-bit).
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("at", _UTC_DATETIME, nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(), nullable=True),
        sa.Column("channel", sa.String(), nullable=True),
        sa.Column("identifier", sa.String(), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"], unique=False)
    op.create_index(
        "ix_audit_events_identifier_at", "audit_events", ["identifier", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_audit_events_identifier_at", table_name="audit_events")
    op.drop_index("ix_audit_events_at", table_name="audit_events")
    op.drop_table("audit_events")
