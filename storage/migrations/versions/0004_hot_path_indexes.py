"""Indexes for the survey's path: invitations found by who claimed them, one index less on answers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

"Delete my answers" frees the invitations a respondent claimed (`claimed_by`), which had no
index: every withdrawal read the whole table, inside the survey event's transaction. And
`answers.session_id` had an index of its own beside the unique (session_id, item_code),
which serves every lookup by session as well: each answer wrote both.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_invitations_claimed_by", "invitations", ["claimed_by"])
    op.drop_index("ix_answers_session_id", table_name="answers")


def downgrade() -> None:
    op.create_index("ix_answers_session_id", "answers", ["session_id"])
    op.drop_index("ix_invitations_claimed_by", table_name="invitations")
