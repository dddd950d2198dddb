"""Survey rounds: rounds with their plan, their groups' single-use invitations, and sessions of a round.

Revision ID: 0019_survey_rounds
Revises: 0015_live_keyboards
Create Date: 2026-12-05

A round's session rates units for a group of officials and belongs to no counter, so
`survey_sessions.service_point_code` becomes nullable. On SQLite that NOT NULL is dropped by
editing the table's stored definition (SQLite's documented procedure for removing a NOT NULL
constraint): rebuilding the table, as batch mode would, deletes its answers and responses
through their ON DELETE CASCADE.
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_survey_rounds"
down_revision: str | None = "0015_live_keyboards"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SESSION_COLUMNS = ("rated_units", "round_invitation_id", "group_code", "round_code")
_POINT_NOT_NULL = re.compile(r"(service_point_code\"?\s+VARCHAR\(\d+\))\s+NOT NULL", re.IGNORECASE)


def _point_nullable(nullable: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.alter_column(
            "survey_sessions", "service_point_code", existing_type=sa.String(32), nullable=nullable
        )
        return
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'survey_sessions'")
    ).scalar_one()
    if nullable:
        changed = _POINT_NOT_NULL.sub(r"\1", sql, count=1)
    else:
        changed = re.sub(
            r"(service_point_code\"?\s+VARCHAR\(\d+\))(?!\s+NOT NULL)",
            r"\1 NOT NULL",
            sql,
            count=1,
            flags=re.IGNORECASE,
        )
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(
        sa.text(
            "UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'survey_sessions'"
        ),
        {"sql": changed},
    )
    bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))


def upgrade() -> None:
    op.create_table(
        "survey_rounds",
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("questionnaire_id", sa.String(64), nullable=False),
        sa.Column("questionnaire_version", sa.String(32), nullable=False),
        sa.Column("questionnaire_source", sa.Text(), nullable=False),
        sa.Column("opens_on", sa.Date(), nullable=False),
        sa.Column("closes_on", sa.Date(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "round_invitations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("short_code_hash", sa.String(64), nullable=False),
        sa.Column("round_code", sa.String(40), nullable=False),
        sa.Column("group_code", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["round_code"], ["survey_rounds.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
        sa.UniqueConstraint("short_code_hash"),
    )
    op.create_index(
        "ix_round_invitations_round_group", "round_invitations", ["round_code", "group_code"]
    )
    # Added in place (no rebuild of survey_sessions, for the reason above).
    with op.batch_alter_table("survey_sessions", recreate="never") as batch_op:
        batch_op.add_column(sa.Column("round_code", sa.String(40), nullable=True))
        batch_op.add_column(sa.Column("group_code", sa.String(40), nullable=True))
        # No foreign key: SQLite cannot drop a column that has one, in place, on downgrade.
        batch_op.add_column(sa.Column("round_invitation_id", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("rated_units", sa.JSON(), nullable=True))
    op.create_index("ix_survey_sessions_round_code", "survey_sessions", ["round_code"])
    op.create_index(
        "ix_survey_sessions_round_invitation_id", "survey_sessions", ["round_invitation_id"]
    )
    _point_nullable(True)


def downgrade() -> None:
    op.execute("DELETE FROM survey_sessions WHERE service_point_code IS NULL")
    _point_nullable(False)
    op.drop_index("ix_survey_sessions_round_invitation_id", table_name="survey_sessions")
    op.drop_index("ix_survey_sessions_round_code", table_name="survey_sessions")
    with op.batch_alter_table("survey_sessions", recreate="never") as batch_op:
        for column in SESSION_COLUMNS:
            batch_op.drop_column(column)
    op.drop_index("ix_round_invitations_round_group", table_name="round_invitations")
    op.drop_table("round_invitations")
    op.drop_table("survey_rounds")
