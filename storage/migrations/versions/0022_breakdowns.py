"""The daily counts per profile band (`daily_band_counts`): what breakdowns are computed from.

Revision ID: 0022_breakdowns
Revises: 0021_dossier_volumes
Create Date: 2026-12-05

The overall and element indices are reported by profile band (gender, age band, education,
occupation, area: docs/indices.md, "Breakdowns by profile"). A band's answers are counted a
day at a time beside the daily counts; every day that still has its responses is marked for
the next aggregation run, which counts its bands. Days whose responses retention has deleted
have no breakdowns.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_breakdowns"
down_revision: str | None = "0021_dossier_volumes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "daily_band_counts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("service_point_code", sa.String(length=32), nullable=False),
        sa.Column("respondent_type", sa.String(length=16), nullable=False),
        sa.Column("flags", sa.SmallInteger(), nullable=False),
        sa.Column("profile_item", sa.String(length=64), nullable=False),
        sa.Column("band", sa.String(length=64), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=True),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_daily_band_counts_day", "daily_band_counts", ["day"])
    op.execute(
        "INSERT INTO dirty_days (day, marked_at) "
        # WHERE TRUE: without it SQLite would read ON CONFLICT as part of the SELECT.
        "SELECT DISTINCT reporting_day, CURRENT_TIMESTAMP FROM responses WHERE TRUE "
        "ON CONFLICT (day) DO UPDATE SET marked_at = excluded.marked_at"
    )


def downgrade() -> None:
    op.drop_index("ix_daily_band_counts_day", table_name="daily_band_counts")
    op.drop_table("daily_band_counts")
