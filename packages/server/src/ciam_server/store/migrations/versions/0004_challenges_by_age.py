"""An index of the challenges by age, which pruning deletes the oldest of.

Revision ID: 0004
Revises: 0003
Create Date: 2026-05-12
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_otp_challenges_created_at", "otp_challenges", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_otp_challenges_created_at", table_name="otp_challenges")
