"""The result moment: the stage an invitation (and its survey) is asked at, the respondent's
choice to be asked the result block once the result is returned, and the kept chat address
for that one message.

Revision ID: 0012_result_moment
Revises: 0010_par_scorecards
Create Date: 2026-12-08

Invitations and sessions stored before this revision were all asked at reception. The
new columns are added in place (no table is rebuilt: rebuilding survey_sessions on SQLite
would delete its answers and responses through their ON DELETE CASCADE).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_result_moment"
down_revision: str | None = "0010_par_scorecards"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAGE_TABLES = ("invitations", "survey_sessions")


def upgrade() -> None:
    for table in STAGE_TABLES:
        op.add_column(
            table,
            sa.Column("stage", sa.String(16), nullable=False, server_default="reception"),
        )
    op.add_column(
        "survey_sessions", sa.Column("result_follow_up_agreed", sa.Boolean(), nullable=True)
    )
    op.add_column("survey_sessions", sa.Column("result_follow_up_id", sa.String(32), nullable=True))
    op.create_table(
        "result_follow_ups",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address_ciphertext", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("agreed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("keep_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result_returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["response_id"], ["responses.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("response_id"),
    )
    op.create_index("ix_result_follow_ups_status", "result_follow_ups", ["status"])
    op.create_index("ix_result_follow_ups_keep_until", "result_follow_ups", ["keep_until"])


def downgrade() -> None:
    op.drop_index("ix_result_follow_ups_keep_until", table_name="result_follow_ups")
    op.drop_index("ix_result_follow_ups_status", table_name="result_follow_ups")
    op.drop_table("result_follow_ups")
    # Dropped in place (SQLite 3.35+), for the reason above.
    with op.batch_alter_table("survey_sessions", recreate="never") as batch_op:
        batch_op.drop_column("result_follow_up_id")
        batch_op.drop_column("result_follow_up_agreed")
    for table in STAGE_TABLES:
        with op.batch_alter_table(table, recreate="never") as batch_op:
            batch_op.drop_column("stage")
