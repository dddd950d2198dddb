"""Reply windows: the respondent's last message a Zalo OA may still answer for free, and how often it has.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Zalo bills an OA's message as proactive unless it answers one of the user's messages (by
its id) within 48 hours, 8 replies per message. Reminders, sent later and possibly by
another worker, need that message's id and the count so far.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reply_windows",
        sa.Column("respondent_key", sa.String(length=64), nullable=False),
        sa.Column("message_ciphertext", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("respondent_key"),
    )
    op.create_index("ix_reply_windows_opened_at", "reply_windows", ["opened_at"])


def downgrade() -> None:
    op.drop_index("ix_reply_windows_opened_at", table_name="reply_windows")
    op.drop_table("reply_windows")
