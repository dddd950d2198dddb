"""The expiry of each staff account's newest password code, so that issuing new codes ends older ones.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

Until now a password code worked until it expired (72 h) or a password was set: one sent to
the wrong person could not be taken back short of disabling the account. Codes issued before
this revision (the column empty) keep working as they did.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_accounts") as batch_op:
        batch_op.add_column(
            sa.Column("password_code_expires_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_accounts") as batch_op:
        batch_op.drop_column("password_code_expires_at")
