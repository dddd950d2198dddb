"""Alembic migrations of the sipas-bot schema."""
