"""Dashboard login state in the database, shared by every worker: failed logins, ended sessions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

With several workers, each kept its own count of failed logins (a guesser got N times the
attempts) and its own list of logged-out cookies (which the other workers still let in).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_staff_login_failures_subject_hash", "staff_login_failures", ["subject_hash"]
    )
    op.create_index("ix_staff_login_failures_failed_at", "staff_login_failures", ["failed_at"])
    op.create_table(
        "ended_staff_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_ended_staff_sessions_expires_at", "ended_staff_sessions", ["expires_at"])


def downgrade() -> None:
    # What is lost is only transient: failed logins within the window, logged-out cookies.
    op.drop_table("ended_staff_sessions")
    op.drop_table("staff_login_failures")
