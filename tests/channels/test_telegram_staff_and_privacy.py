"""Over the fake Bot API: staff commands for enrolled staff only, and no respondent id or name kept."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest

from channels.telegram import CHANNEL, TelegramChannel, build_application
from channels.telegram_delivery import RetryingRateLimiter
from handlers.staff import StaffCommands
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.db import Database
from storage.live_keyboards import LiveKeyboards
from storage.staff import NewStaff, add_staff
from tests.analytics.survey_rows import SIPAS_LAYOUT
from tests.anonymity import database_text
from tests.channels.test_telegram_e2e import COUNTER, POLLING, answer, say
from tests.conftest import TEST_SECRET
from tests.fakes.telegram_server import FakeTelegram, FakeUser
from tests.survey_driver import add_counters, engine_config
from tests.web.test_dashboard import METHOD, PERIOD, ZONE, seed

DASHBOARD = "https://sipas.example.vn/dashboard"


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@asynccontextmanager
async def bot_with_staff(telegram: FakeTelegram, database: Database) -> AsyncIterator[None]:
    engine = SurveyEngine(database, load_bundled(), engine_config())
    staff = StaffCommands(
        database,
        secret=TEST_SECRET,
        zone=ZONE,
        layout=SIPAS_LAYOUT,
        method=METHOD,
        min_cell_size=10,
        dashboard_url=DASHBOARD,
    )
    application = build_application(
        telegram.token,
        base_url=telegram.base_url,
        rate_limiter=RetryingRateLimiter(first_backoff=0.05),
    )
    keyboards = LiveKeyboards(database, TEST_SECRET, CHANNEL)
    channel = TelegramChannel(application, engine, staff=staff, keyboards=keyboards)
    await channel.launch(poll_timeout=1)
    try:
        yield
    finally:
        await channel.close()


async def ward_viewer(database: Database) -> NewStaff:
    """Seeded responses and a viewer of ward 00004, not yet enrolled."""
    await seed(database)
    async with database.transaction() as session:
        return await add_staff(
            session,
            TEST_SECRET,
            name="hoa.ba-dinh",
            role="viewer",
            unit_codes=["00004"],
            now=datetime.now(UTC),
        )


def texts(user: FakeUser) -> list[str]:
    return [message.text for message in user.messages()]


async def test_enrolled_staff_get_summary_chart_ranking_and_spreadsheet_and_strangers_get_help(
    telegram: FakeTelegram, database: Database
) -> None:
    issued = await ward_viewer(database)
    officer, stranger = telegram.user(first_name="Trần Thị Hoa"), telegram.user()
    async with bot_with_staff(telegram, database):
        await say(telegram, stranger, f"/summary 00004 {PERIOD}", POLLING)
        await telegram.wait_for(lambda: len(stranger.messages()) >= 2, what="the help reply")
        to_staff_command = texts(stranger)
        await say(telegram, stranger, "/no_such_command", POLLING)
        await telegram.wait_for(lambda: len(stranger.messages()) >= 4, what="the help reply")
        assert texts(stranger)[2:] == to_staff_command  # the same as any unknown command

        await say(telegram, officer, f"/staff {issued.enrolment_code}", POLLING)
        assert "hoa.ba-dinh" in texts(officer)[-1]

        await say(telegram, officer, f"/summary 00004 {PERIOD}", POLLING)
        await telegram.wait_for(
            lambda: any(m.attachment and m.attachment.kind == "photo" for m in officer.messages()),
            what="the chart",
        )
        chart = next(m.attachment for m in officer.messages() if m.attachment)
        assert chart is not None and chart.content.startswith(b"\x89PNG")
        assert any("00004" in text or "Ba Đình" in text for text in texts(officer))

        await say(telegram, officer, f"/export {PERIOD}", POLLING)
        await telegram.wait_for(
            lambda: any(
                m.attachment and m.attachment.kind == "document" for m in officer.messages()
            ),
            what="the spreadsheet",
        )
        sheet = next(
            m.attachment
            for m in officer.messages()
            if m.attachment and m.attachment.kind == "document"
        )
        assert (
            sheet is not None
            and sheet.filename.endswith(".xlsx")
            and sheet.content.startswith(b"PK")
        )

    assert not any(m.attachment for m in stranger.messages())


async def test_a_failed_upload_says_where_to_download_and_help_lists_staff_commands(
    telegram: FakeTelegram, database: Database
) -> None:
    issued = await ward_viewer(database)
    officer = telegram.user(first_name="Trần Thị Hoa")
    async with bot_with_staff(telegram, database):
        await say(telegram, officer, f"/staff {issued.enrolment_code}", POLLING)
        telegram.fail("sendDocument", 400)
        await say(telegram, officer, f"/export {PERIOD}", POLLING)
        await telegram.wait_for(
            lambda: any("Không gửi được tệp" in text for text in texts(officer)),
            what="where to download the file instead",
        )
        link = f"{DASHBOARD}/download/report.xlsx?period={PERIOD}&level=commune"
        assert any(link in text for text in texts(officer))

        await say(telegram, officer, "/help", POLLING)
        await telegram.wait_for(
            lambda: any(text.startswith("Lệnh dành cho cán bộ") for text in texts(officer)),
            what="the staff commands after the help",
        )


async def test_respondents_names_usernames_and_ids_stay_out_of_the_database_and_the_logs(
    telegram: FakeTelegram, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await add_counters(database)
    people = [
        telegram.user(first_name="Phạm Minh Châu", username="chau_pham_1987", user_id=918273645),
        telegram.user(first_name="Lê Quang Dũng", username="dung.le.hn", user_id=564738291),
    ]
    async with bot_with_staff(telegram, database):
        for person in people:
            await say(telegram, person, f"/start {COUNTER}", POLLING)
            await answer(telegram, person, POLLING)

    stored = await database_text(database)
    assert stored.count("completed") >= 2  # both surveys are there to be searched
    for person in people:
        for identifier in (str(person.id), person.first_name, person.username or ""):
            assert identifier not in stored
            assert identifier not in caplog.text
