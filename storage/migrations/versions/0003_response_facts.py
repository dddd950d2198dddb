"""Response facts: the quality facts recorded with each response at completion; response
quality rows become derived data without a foreign key.

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

_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
_SQLITE_KEY = "fk_response_quality_response_id_responses"
_POSTGRES_KEY = "response_quality_response_id_fkey"  # PostgreSQL's name for 0002's key


def upgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scale_answers", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("uniform_value", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("median_gap_seconds", sa.Float(), nullable=True))
    # response_quality loses scale_answers (now a fact of the response) and its foreign key
    # (derived data, rebuilt a day at a time: storage/models.py, ResponseQuality). SQLite's
    # key has no name; batch mode finds it through a naming convention.
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("response_quality", naming_convention=_NAMES) as batch_op:
            batch_op.drop_constraint(_SQLITE_KEY, type_="foreignkey")
            batch_op.drop_column("scale_answers")
    else:
        op.drop_constraint(_POSTGRES_KEY, "response_quality", type_="foreignkey")
        op.drop_column("response_quality", "scale_answers")


def downgrade() -> None:
    with op.batch_alter_table("response_quality", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scale_answers", sa.Integer(), nullable=False, server_default="0")
        )
        key = _SQLITE_KEY if op.get_bind().dialect.name == "sqlite" else _POSTGRES_KEY
        batch_op.create_foreign_key(key, "responses", ["response_id"], ["id"], ondelete="CASCADE")
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_column("median_gap_seconds")
        batch_op.drop_column("uniform_value")
        batch_op.drop_column("scale_answers")
