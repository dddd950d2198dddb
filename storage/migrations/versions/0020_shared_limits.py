"""Shared limits: the token buckets the workers of `sipas serve --workers N` share.

Revision ID: 0020_shared_limits
Revises: 0017_method
Create Date: 2026-12-05

Telegram counts a bot's messages together, whichever process sends them, and an API key's
rate limit is the key's, whichever worker answers it: on PostgreSQL the workers take their
turns from buckets kept here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_shared_limits"
down_revision: str | None = "0017_method"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shared_limits",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_shared_limits_at", "shared_limits", ["at"])


def downgrade() -> None:
    op.drop_index("ix_shared_limits_at", table_name="shared_limits")
    op.drop_table("shared_limits")
