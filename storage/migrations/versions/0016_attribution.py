"""Attribution: what a rating is about (procedure, authority, how submitted); the procedure catalogue.

Revision ID: 0016_attribution
Revises: 0019_survey_rounds
Create Date: 2026-12-05

A rating belongs to the competent authority of the procedure, not to the counter where the
dossier was handed in (shared/domain/sipas.md §5b). Invitations and responses carry the
procedure, the authority and how the dossier was submitted; the daily counts are kept per
authority and procedure too. Responses stored before take their counter's agency (else its
unit), as a survey without an invitation does, and every counted day is marked changed so the
next aggregation counts it again by authority.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_attribution"
down_revision: str | None = "0019_survey_rounds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ATTRIBUTED = ("invitations", "responses")
_COUNTED = ("daily_counts", "daily_respondents")


def upgrade() -> None:
    op.create_table(
        "procedures",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("field", sa.String(length=250), nullable=False),
        sa.Column("authority_level", sa.String(length=32), nullable=False),
        sa.Column("default_authority", sa.String(length=32), nullable=True),
        sa.Column("is_sample", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    for table in _ATTRIBUTED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("procedure_code", sa.String(length=32), nullable=True))
            batch.add_column(sa.Column("authority_code", sa.String(length=32), nullable=True))
            batch.add_column(
                sa.Column(
                    "submitted_via", sa.String(length=16), server_default="direct", nullable=False
                )
            )
    for table in _COUNTED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("authority_code", sa.String(length=32), nullable=True))
            batch.add_column(sa.Column("procedure_code", sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE responses SET authority_code = (SELECT COALESCE(p.agency_code, p.unit_code) "
        "FROM service_points p WHERE p.code = responses.service_point_code)"
    )
    op.execute(
        "INSERT INTO dirty_days (day, marked_at) SELECT DISTINCT day, CURRENT_TIMESTAMP "
        "FROM daily_respondents WHERE day NOT IN (SELECT day FROM dirty_days)"
    )


def downgrade() -> None:
    for table in _COUNTED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("procedure_code")
            batch.drop_column("authority_code")
    for table in _ATTRIBUTED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("submitted_via")
            batch.drop_column("authority_code")
            batch.drop_column("procedure_code")
    op.drop_table("procedures")
