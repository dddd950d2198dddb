"""The daily count tables lose their serial key (`id`), kept by nothing.

Revision ID: 0024_daily_counts_without_keys
Revises: 0023_missing_facts_index
Create Date: 2026-12-06

A day's rows in `daily_counts`, `daily_respondents` and `daily_band_counts` are only ever
deleted and inserted together and read summed by their day index; nothing looks a row up by
its key. Writing the key and its index took PostgreSQL 1.2 s of the 5.0 it spent counting a
35,000-response day's band rows (about 570,000 rows), and its index was a sixth of the band
table's size. The rows are kept as they are; SQLite rebuilds each table without the column.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_daily_counts_without_keys"
down_revision: str | None = "0023_missing_facts_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("daily_counts", "daily_respondents", "daily_band_counts")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("id")


def downgrade() -> None:
    for table in _TABLES:
        if op.get_bind().dialect.name == "postgresql":
            # Numbers the kept rows and makes the column the key, in one statement.
            op.execute(f"ALTER TABLE {table} ADD COLUMN id SERIAL PRIMARY KEY")
            continue
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.add_column(sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True))
