"""Which quality flags a counted response carried (`flags`), so the method decides which exclude.

Revision ID: 0017_method
Revises: 0016_attribution
Create Date: 2026-12-05

The daily counts kept one `flagged` mark per row, so every flag left a response out of the
cleaned indices. They now also keep the flags themselves (bits: straight-lining 1, speeding 2,
repeat 4), and the method file says which combinations exclude (docs/indices.md, "Response
quality"). Rows counted before this revision do not know their flags: unflagged rows get 0,
flagged ones 7 (every flag, so they stay left out under any rule), and every day that still
has its responses is marked for the next aggregation run, which counts it again with its
real flags. Days whose responses retention has deleted keep the old, stricter exclusion.
Columns are added in place (no table is rebuilt).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_method"
down_revision: str | None = "0016_attribution"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNT_TABLES = ("daily_counts", "daily_respondents")


def upgrade() -> None:
    for table in COUNT_TABLES:
        with op.batch_alter_table(table, recreate="never") as batch_op:
            batch_op.add_column(
                sa.Column("flags", sa.SmallInteger(), nullable=False, server_default="0")
            )
        op.execute(f"UPDATE {table} SET flags = 7 WHERE flagged")  # noqa: S608
    op.execute(
        "INSERT INTO dirty_days (day, marked_at) "
        # WHERE TRUE: without it SQLite would read ON CONFLICT as part of the SELECT.
        "SELECT DISTINCT reporting_day, CURRENT_TIMESTAMP FROM responses WHERE TRUE "
        "ON CONFLICT (day) DO UPDATE SET marked_at = excluded.marked_at"
    )


def downgrade() -> None:
    for table in COUNT_TABLES:
        with op.batch_alter_table(table, recreate="never") as batch_op:
            batch_op.drop_column("flags")
