"""PAR Index scorecards: assessment years with their criteria, a scorecard per assessed unit,
self-scores with evidence, and the appraisal council's adjustments (append-only).

Revision ID: 0010_par_scorecards
Revises: 0009
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_par_scorecards"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "par_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("scheme_id", sa.String(length=64), nullable=False),
        sa.Column("criteria_sha256", sa.String(length=64), nullable=False),
        sa.Column("criteria_text", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "par_scorecards",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("tree", sa.String(length=16), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("unit_name", sa.String(length=250), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["year"], ["par_years.year"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("year", "unit_code"),
    )
    op.create_table(
        "par_self_scores",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scorecard_id", sa.Integer(), nullable=False),
        sa.Column("criterion_code", sa.String(length=32), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source_file", sa.String(length=255), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["scorecard_id"], ["par_scorecards.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scorecard_id", "criterion_code"),
    )
    op.create_table(
        "par_appraisals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scorecard_id", sa.Integer(), nullable=False),
        sa.Column("criterion_code", sa.String(length=32), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("staff_account_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["scorecard_id"], ["par_scorecards.id"]),
        sa.ForeignKeyConstraint(["staff_account_id"], ["staff_accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_par_appraisals_criterion", "par_appraisals", ["scorecard_id", "criterion_code"]
    )


def downgrade() -> None:
    op.drop_index("ix_par_appraisals_criterion", table_name="par_appraisals")
    op.drop_table("par_appraisals")
    op.drop_table("par_self_scores")
    op.drop_table("par_scorecards")
    op.drop_table("par_years")
