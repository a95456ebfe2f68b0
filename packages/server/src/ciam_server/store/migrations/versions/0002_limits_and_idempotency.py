"""Per-application daily send quotas, an index for the per-identifier send limits, and
recorded answers for idempotency keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Stored as timestamptz on PostgreSQL and as naive UTC text on SQLite (see tables.UtcDateTime).
_UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Nullable, so existing applications keep sending without a quota.
    with op.batch_alter_table("applications") as batch:
        batch.add_column(sa.Column("email_daily_quota", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sms_daily_quota", sa.Integer(), nullable=True))

    # The per-identifier limits count challenges of every usage and application.
    op.create_index(
        "ix_otp_challenges_channel_identifier_created_at",
        "otp_challenges",
        ["channel", "identifier", "created_at"],
        unique=False,
    )

    op.create_table(
        "idempotency_keys",
        sa.Column("client_id", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("endpoint", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("retry_after", sa.Integer(), nullable=True),
        sa.Column("created_at", _UTC_DATETIME, nullable=False),
        sa.Column("expires_at", _UTC_DATETIME, nullable=False),
        sa.CheckConstraint("state IN ('in_progress', 'done')", name="ck_idempotency_keys_state"),
        sa.PrimaryKeyConstraint("client_id", "key", name="pk_idempotency_keys"),
    )
    op.create_index(
        "ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_expires_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_otp_challenges_channel_identifier_created_at", table_name="otp_challenges")
    # SQLite cannot drop columns in place everywhere; batch mode copies the table there.
    with op.batch_alter_table("applications") as batch:
        batch.drop_column("sms_daily_quota")
        batch.drop_column("email_daily_quota")
