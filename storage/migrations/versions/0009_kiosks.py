"""Kiosks: tablets at a counter running the web survey, each with a revocable URL.

Revision ID: 0009
Revises: 0008_consent_retention
Create Date: 2026-11-29

A kiosk's URL carries a random token; only its keyed hash is stored, so the URL cannot be
read back from the database, and revoking the row ends it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008_consent_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kiosks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("service_point_code", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["service_point_code"], ["service_points.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_kiosks_service_point_code", "kiosks", ["service_point_code"])


def downgrade() -> None:
    op.drop_table("kiosks")
