"""Response facts: the quality facts recorded with each response at completion.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

Existing responses get NULL facts; the aggregation records them the next time it counts
their day (`storage.sessions.record_missing_facts`), so this migration reads no answers.
That first recount reads those days' answers once through Python: for a million old
responses, expect `sipas aggregate --full` to take a few minutes once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scale_answers", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("uniform_value", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("median_gap_seconds", sa.Float(), nullable=True))
    # Now a fact of the response.
    with op.batch_alter_table("response_quality", schema=None) as batch_op:
        batch_op.drop_column("scale_answers")


def downgrade() -> None:
    # The flags are derived data: rather than rebuild them here, they are dropped and every
    # day with responses is marked for the next aggregation run. (On SQLite, rebuilding
    # `responses` below would cascade into them anyway.)
    op.execute("DELETE FROM response_quality")
    op.execute(
        "INSERT INTO dirty_days (day, marked_at) "
        # WHERE TRUE: without it SQLite would read ON CONFLICT as part of the SELECT.
        "SELECT DISTINCT reporting_day, CURRENT_TIMESTAMP FROM responses WHERE TRUE "
        "ON CONFLICT (day) DO UPDATE SET marked_at = excluded.marked_at"
    )
    with op.batch_alter_table("response_quality", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scale_answers", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_column("median_gap_seconds")
        batch_op.drop_column("uniform_value")
        batch_op.drop_column("scale_answers")
