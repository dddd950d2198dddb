"""Aggregation: response quality flags, daily counts, daily respondents, aggregation runs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "response_quality",
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("reporting_day", sa.Date(), nullable=False),
        sa.Column("scale_answers", sa.Integer(), nullable=False),
        sa.Column("straight_lining", sa.Boolean(), nullable=False),
        sa.Column("speeding", sa.Boolean(), nullable=False),
        sa.Column("repeated", sa.Boolean(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["response_id"], ["responses.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("response_id"),
    )
    op.create_index(
        "ix_response_quality_reporting_day", "response_quality", ["reporting_day"], unique=False
    )
    op.create_table(
        "daily_counts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("service_point_code", sa.String(length=32), nullable=False),
        sa.Column("respondent_type", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=True),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_daily_counts_day", "daily_counts", ["day"], unique=False)
    op.create_table(
        "daily_respondents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("service_point_code", sa.String(length=32), nullable=False),
        sa.Column("respondent_type", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("respondents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_daily_respondents_day", "daily_respondents", ["day"], unique=False)
    op.create_table(
        "aggregation_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("questionnaire_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_day", sa.Date(), nullable=True),
        sa.Column("last_day", sa.Date(), nullable=True),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("flagged_responses", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_aggregation_runs_status", "aggregation_runs", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_aggregation_runs_status", table_name="aggregation_runs")
    op.drop_table("aggregation_runs")
    op.drop_index("ix_daily_respondents_day", table_name="daily_respondents")
    op.drop_table("daily_respondents")
    op.drop_index("ix_daily_counts_day", table_name="daily_counts")
    op.drop_table("daily_counts")
    op.drop_index("ix_response_quality_reporting_day", table_name="response_quality")
    op.drop_table("response_quality")
