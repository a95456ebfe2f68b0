"""Applications, users, password history and one-time code challenges.

Revision ID: 0001
Revises:
Create Date: 2026-05-09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Stored as timestamptz on PostgreSQL and as naive UTC text on SQLite (see tables.UtcDateTime).
_UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "applications",
        sa.Column("client_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("app_type", sa.String(), nullable=False),
        sa.Column("secret_hash", sa.String(), nullable=True),
        sa.Column("allow_otp_send", sa.Boolean(), nullable=False),
        sa.Column("created_at", _UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("client_id", name="pk_applications"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("phone_number", sa.String(), nullable=True),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("frozen", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("credential_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", _UTC_DATETIME, nullable=False),
        sa.Column("updated_at", _UTC_DATETIME, nullable=False),
        sa.CheckConstraint(
            "email IS NOT NULL OR phone_number IS NOT NULL",
            name="ck_users_email_or_phone_number",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.UniqueConstraint("phone_number", name="uq_users_phone_number"),
    )
    op.create_table(
        "password_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("created_at", _UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_password_history_user_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_password_history"),
    )
    op.create_index(
        "ix_password_history_user_id_id", "password_history", ["user_id", "id"], unique=False
    )
    op.create_table(
        "otp_challenges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(), nullable=False),
        sa.Column("usage", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("identifier", sa.String(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("code_hash", sa.String(), nullable=False),
        sa.Column("created_at", _UTC_DATETIME, nullable=False),
        sa.Column("code_expires_at", _UTC_DATETIME, nullable=False),
        sa.Column("token_expires_at", _UTC_DATETIME, nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("consumed_at", _UTC_DATETIME, nullable=True),
        sa.Column("retired_at", _UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_otp_challenges"),
        sa.UniqueConstraint("token_hash", name="uq_otp_challenges_token_hash"),
    )
    op.create_index(
        "ix_otp_challenges_usage_channel_identifier_created_at",
        "otp_challenges",
        ["usage", "channel", "identifier", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_otp_challenges_client_id_created_at",
        "otp_challenges",
        ["client_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("otp_challenges")
    op.drop_table("password_history")
    op.drop_table("users")
    op.drop_table("applications")
