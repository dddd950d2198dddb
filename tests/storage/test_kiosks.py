"""Kiosks: a URL token shown once and stored as a keyed hash, for open counters, revocable."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from storage.db import Database
from storage.kiosks import KioskError, issue_kiosk, list_kiosks, live_kiosk, revoke_kiosk
from storage.models import ServicePoint
from tests.anonymity import database_text
from tests.conftest import TEST_SECRET
from tests.survey_driver import OTHER_POINT, POINT, add_counters

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


async def test_a_kiosk_token_opens_its_kiosk_until_revoked_and_is_never_stored(
    database: Database,
) -> None:
    await add_counters(database)
    async with database.transaction() as tx:
        issued = await issue_kiosk(tx, TEST_SECRET, service_point_code=POINT, now=NOW)
        other = await issue_kiosk(tx, TEST_SECRET, service_point_code=POINT, now=NOW)
    assert issued.token != other.token and len(issued.token) == 43
    assert issued.token not in await database_text(database)
    async with database.reading() as tx:
        found = await live_kiosk(tx, TEST_SECRET, issued.token)
        assert found is not None and found.id == issued.kiosk.id
        assert found.service_point_code == POINT
        assert (
            await live_kiosk(tx, "another-secret-0123456789-abcdefghijklmnop", issued.token) is None
        )
        assert await live_kiosk(tx, TEST_SECRET, issued.token[:-1] + "x") is None
        assert await live_kiosk(tx, TEST_SECRET, "../../etc") is None
    async with database.transaction() as tx:
        revoked = await revoke_kiosk(tx, issued.kiosk.id, NOW)
        assert revoked.revoked_at == NOW
    async with database.transaction() as tx:
        await revoke_kiosk(tx, issued.kiosk.id, datetime(2026, 12, 1, tzinfo=UTC))
    async with database.reading() as tx:
        assert await live_kiosk(tx, TEST_SECRET, issued.token) is None
        assert await live_kiosk(tx, TEST_SECRET, other.token) is not None
        kiosks = await list_kiosks(tx)
    assert [(kiosk.id, kiosk.revoked_at) for kiosk in kiosks] == sorted(
        [(issued.kiosk.id, NOW), (other.kiosk.id, None)]
    )


async def test_no_kiosk_for_an_unknown_or_closed_counter_and_no_revoking_an_unknown_one(
    database: Database,
) -> None:
    await add_counters(database)
    async with database.transaction() as tx:
        await tx.execute(
            update(ServicePoint).where(ServicePoint.code == OTHER_POINT).values(active=False)
        )
    async with database.transaction() as tx:
        with pytest.raises(KioskError, match="no service point 'HN-99'"):
            await issue_kiosk(tx, TEST_SECRET, service_point_code="HN-99", now=NOW)
        with pytest.raises(KioskError, match="closed"):
            await issue_kiosk(tx, TEST_SECRET, service_point_code=OTHER_POINT, now=NOW)
        with pytest.raises(KioskError, match="sipas kiosk list"):
            await revoke_kiosk(tx, "nothere", NOW)
