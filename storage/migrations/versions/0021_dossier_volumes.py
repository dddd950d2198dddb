"""Dossier volumes: how many dossiers each counter received per day and authority.

Revision ID: 0021_dossier_volumes
Revises: 0020_shared_limits
Create Date: 2026-12-05

The one-stop system reports them (`POST /api/v1/volumes`, `sipas volumes load`); coverage is
completed responses ÷ dossiers (issue #19 item 6). A report for the same counter, day and
authority replaces the earlier figure, hence the key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_dossier_volumes"
down_revision: str | None = "0020_shared_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dossier_volumes",
        sa.Column("service_point_code", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("authority_code", sa.String(length=32), nullable=False),
        sa.Column("dossiers", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["service_point_code"], ["service_points.code"]),
        sa.PrimaryKeyConstraint("service_point_code", "day", "authority_code"),
    )


def downgrade() -> None:
    op.drop_table("dossier_volumes")
