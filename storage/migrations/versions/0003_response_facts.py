"""Response facts: the quality facts recorded with each response at completion.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

Existing responses get NULL facts; the aggregation records them the next time it counts
their day (`storage.sessions.record_missing_facts`), so this migration reads no answers.
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
    with op.batch_alter_table("response_quality", schema=None) as batch_op:
        batch_op.drop_column("scale_answers")


def downgrade() -> None:
    with op.batch_alter_table("response_quality", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scale_answers", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_column("median_gap_seconds")
        batch_op.drop_column("uniform_value")
        batch_op.drop_column("scale_answers")
