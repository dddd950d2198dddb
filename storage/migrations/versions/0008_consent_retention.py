"""Consent recorded per response (when, and which privacy notice), and the runs of the retention period.

Revision ID: 0008_consent_retention
Revises: 0007
Create Date: 2026-12-04

Law 91/2025/QH15 asks a controller to be able to show consent: each session, and the
response it becomes, keeps the moment of consent and a hash of the notice agreed to,
never who agreed. Responses stored before this revision have neither. Completed answers
are now kept for SIPAS_RETENTION_MONTHS; each run that deletes records its cutoff day.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_consent_retention"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSENT_TABLES = ("survey_sessions", "responses")


def upgrade() -> None:
    for table in CONSENT_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column("notice_version", sa.String(16), nullable=True))
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cutoff_day", sa.Date(), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("unfinished_sessions", sa.Integer(), nullable=False),
        sa.Column("invitations", sa.Integer(), nullable=False),
    )
    op.create_index("ix_retention_runs_cutoff_day", "retention_runs", ["cutoff_day"])


def downgrade() -> None:
    op.drop_index("ix_retention_runs_cutoff_day", table_name="retention_runs")
    op.drop_table("retention_runs")
    for table in CONSENT_TABLES:
        # Dropped in place (SQLite 3.35+): rebuilding survey_sessions, as batch mode would on
        # SQLite, deletes its answers and responses through their ON DELETE CASCADE.
        with op.batch_alter_table(table, recreate="never") as batch_op:
            batch_op.drop_column("notice_version")
            batch_op.drop_column("consent_at")
