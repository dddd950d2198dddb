"""Live keyboards: the bot's messages in a chat whose buttons still answer, so that the next takes their place.

Revision ID: 0015_live_keyboards
Revises: 0012_result_moment
Create Date: 2026-12-08

A chat should show one live keyboard, the current step's. The message that carries it is
only known once sent, and the update that supersedes it may be processed by another worker
or after a restart: the ids are kept in the database, per respondent key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_live_keyboards"
down_revision: str | None = "0012_result_moment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_keyboards",
        sa.Column("respondent_key", sa.String(length=64), nullable=False),
        sa.Column("message_ids", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("respondent_key"),
    )
    op.create_index("ix_live_keyboards_updated_at", "live_keyboards", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_live_keyboards_updated_at", table_name="live_keyboards")
    op.drop_table("live_keyboards")
