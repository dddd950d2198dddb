"""Fixtures of the analytics tests."""

from __future__ import annotations

import pytest

from storage.db import Database
from tests.analytics.survey_rows import Survey


@pytest.fixture
async def survey(database: Database) -> Survey:
    """A database with the test units loaded, and a builder of responses."""
    builder = Survey(database)
    await builder.units()
    return builder
