"""Staff accounts: one-time codes, argon2 passwords, chat enrolment, scopes, disabling."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from storage.db import Database
from storage.staff import (
    StaffError,
    account_by_password_code,
    add_staff,
    authenticate,
    disable_staff,
    enrol_chat,
    hash_new_password,
    issue_codes,
    set_password,
    spend_password_code,
    staff_by_chat,
    staff_scope,
)
from tests.analytics.survey_rows import Survey
from tests.conftest import TEST_SECRET
from tests.write_lock import another_process_could_write

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


async def test_codes_passwords_enrolment_scope_and_disabling(database: Database) -> None:
    await Survey(database).units()
    async with database.transaction() as session:
        with pytest.raises(StaffError, match="needs --units"):
            await add_staff(session, TEST_SECRET, name="x", role="viewer", unit_codes=[], now=NOW)
        with pytest.raises(StaffError, match="no unit or agency '99999'"):
            await add_staff(
                session, TEST_SECRET, name="x", role="viewer", unit_codes=["99999"], now=NOW
            )
        issued = await add_staff(
            session, TEST_SECRET, name="lan", role="viewer", unit_codes=["00004"], now=NOW
        )
        with pytest.raises(StaffError, match="already a staff account"):
            await add_staff(session, TEST_SECRET, name="lan", role="admin", unit_codes=[], now=NOW)
    account_id = issued.account.id
    code = issued.password_code

    async with database.transaction() as session:
        # Forged, expired and wrong-secret codes find nobody.
        forged = code[:-2] + ("aa" if not code.endswith("aa") else "bb")
        assert await account_by_password_code(session, TEST_SECRET, forged, NOW) is None
        late = NOW + timedelta(hours=73)
        assert await account_by_password_code(session, TEST_SECRET, code, late) is None
        assert await account_by_password_code(session, "another-secret" * 3, code, NOW) is None
        account = await account_by_password_code(session, TEST_SECRET, code, NOW)
        assert account is not None and account.id == account_id
        with pytest.raises(StaffError, match="at least 10"):
            set_password(account, "short")
        set_password(account, "a long enough password")
        assert account.password_hash is not None and account.password_hash.startswith("$argon2")
    assert await authenticate(database, "lan", "a long enough password") is not None
    assert await authenticate(database, "lan", "wrong password!") is None
    assert await authenticate(database, "nobody", "a long enough password") is None
    async with database.transaction() as session:
        # Setting the password spent the code.
        assert await account_by_password_code(session, TEST_SECRET, code, NOW) is None

        # Enrolment: the code works once, for Telegram, before it expires.
        assert await enrol_chat(session, TEST_SECRET, "telegram", "111", "WRONG-CODE", NOW) is None
        enrolled = await enrol_chat(
            session, TEST_SECRET, "telegram", "111", issued.enrolment_code.lower(), NOW
        )
        assert enrolled is not None and enrolled.telegram_user_id == "111"
        assert enrolled.enrolment_code_hash is None
        again = await enrol_chat(
            session, TEST_SECRET, "telegram", "222", issued.enrolment_code, NOW
        )
        assert again is None
        assert (await staff_by_chat(session, "telegram", "111")) is not None
        assert (await staff_by_chat(session, "telegram", "222")) is None

        scope = await staff_scope(session, enrolled)
        assert scope.allows("commune", "00004") and scope.allows("service_point", "W1-B")
        assert not scope.allows("commune", "00070") and not scope.allows("service_point", "W2-A")
        assert not scope.allows("province", "01") and not scope.allows("agency", "HN-STP")

        fresh = await issue_codes(session, TEST_SECRET, enrolled, NOW)
        assert (
            await enrol_chat(session, TEST_SECRET, "zalo_oa", "9", fresh.enrolment_code, NOW)
            is None
        )

        disabled = await disable_staff(session, "lan", NOW)
        assert disabled.telegram_user_id is None and disabled.disabled_at == NOW
    assert await authenticate(database, "lan", "a long enough password") is None
    async with database.transaction() as session:
        assert await staff_by_chat(session, "telegram", "111") is None
        assert (
            await enrol_chat(session, TEST_SECRET, "telegram", "9", fresh.enrolment_code, NOW)
            is None
        )
        with pytest.raises(StaffError, match="disabled"):
            await issue_codes(session, TEST_SECRET, disabled, NOW)


async def test_new_codes_end_the_older_password_code(database: Database) -> None:
    await Survey(database).units()
    async with database.transaction() as session:
        first = await add_staff(
            session, TEST_SECRET, name="lan", role="viewer", unit_codes=["00004"], now=NOW
        )
        later = NOW + timedelta(hours=1)  # sent to the wrong address: the admin issues again
        second = await issue_codes(session, TEST_SECRET, first.account, later)
    async with database.reading() as session:
        assert (
            await account_by_password_code(session, TEST_SECRET, first.password_code, later) is None
        )
        found = await account_by_password_code(session, TEST_SECRET, second.password_code, later)
        assert found is not None and found.name == "lan"


async def test_a_password_hashed_outside_the_transaction_spends_its_code_once(
    database: Database,
) -> None:
    await Survey(database).units()
    async with database.transaction() as session:
        issued = await add_staff(
            session, TEST_SECRET, name="lan", role="viewer", unit_codes=["00004"], now=NOW
        )
    with pytest.raises(StaffError, match="at least 10"):
        hash_new_password("short")
    first, second = hash_new_password("the first password"), hash_new_password("another one!")
    async with database.transaction() as session:
        spent = await spend_password_code(session, TEST_SECRET, issued.password_code, first, NOW)
        assert spent is not None and spent.password_hash == first
    async with database.transaction() as session:
        # The second of two requests hashed with the same code finds it spent.
        again = await spend_password_code(session, TEST_SECRET, issued.password_code, second, NOW)
        assert again is None
    assert await authenticate(database, "lan", "the first password") is not None
    assert await authenticate(database, "lan", "another one!") is None


async def test_admins_and_agency_viewers(database: Database) -> None:
    await Survey(database).units()
    async with database.transaction() as session:
        admin = await add_staff(
            session, TEST_SECRET, name="snv", role="admin", unit_codes=[], now=NOW
        )
        agency = await add_staff(
            session, TEST_SECRET, name="stp", role="viewer", unit_codes=["HN-STP"], now=NOW
        )
        everything = await staff_scope(session, admin.account)
        assert everything.allows("commune", "00070") and everything.allows("agency", "HN-STP")
        department = await staff_scope(session, agency.account)
        assert department.allows("agency", "HN-STP") and department.allows("service_point", "STP-1")
        assert not department.allows("service_point", "W1-A")
        assert not department.allows("province", "01")


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_password_is_checked_off_the_event_loop_and_without_the_write_lock(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await Survey(database).units()
    async with database.transaction() as session:
        issued = await add_staff(
            session, TEST_SECRET, name="lan", role="viewer", unit_codes=["00004"], now=NOW
        )
        set_password(issued.account, "a long enough password")
    seen: list[tuple[bool, bool]] = []  # (on the main thread, could another process write)
    verify = PasswordHasher.verify

    def watched(self: PasswordHasher, stored: str, password: str) -> bool:
        on_main_thread = threading.current_thread() is threading.main_thread()
        seen.append((on_main_thread, another_process_could_write(database)))
        return verify(self, stored, password)

    monkeypatch.setattr(PasswordHasher, "verify", watched)
    assert await authenticate(database, "lan", "a long enough password") is not None
    assert seen == [(False, True)]
