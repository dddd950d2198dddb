"""The result moment end to end over real HTTP: `sipas serve` with the real python-telegram-bot
stack against the fake Bot API, the one-stop system calling the invitation API, and the export
the scoring pipeline reads."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from analytics.days import reporting_day
from bot.cli import cli
from storage.api_keys import create_api_key
from storage.db import Database
from storage.migrate import upgrade
from storage.models import ResultFollowUp
from tests.anonymity import database_text
from tests.channels.test_telegram_e2e import (
    COMMENT,
    POLLING,
    free_port,
    say,
    screen,
    serving,
    settings_for,
    tap,
)
from tests.conftest import TEST_SECRET
from tests.fakes.telegram_server import FakeTelegram, FakeUser, SentMessage
from tests.survey_driver import POINT, ZONE, add_counters

DOSSIER = "000.00.01.H26-261120-0042"


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def served_url(tmp_path: Path) -> tuple[str, str]:
    """A migrated SQLite file with the counters, and an API key for the ward's one-stop system."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}"
    await upgrade(url)
    database = Database(url)
    await add_counters(database)
    async with database.transaction() as tx:
        key = await create_api_key(
            tx, name="mot-cua-ba-dinh", unit_codes=["00004"], now=datetime.now(UTC)
        )
    await database.dispose()
    return url, key.key


def buttons(message: SentMessage | None) -> list[str]:
    return [data for row in message.buttons for _, data in row] if message else []


def text_of(message: SentMessage | None) -> str:
    return message.text if message is not None else ""


async def answer_the_survey(
    telegram: FakeTelegram, person: FakeUser, *, follow_up: str
) -> list[str]:
    """Consent, 5 then 4 on every scale, "Chưa nhận" at the result screener, `follow_up` to being
    written to when the result is returned, "no" at the other screeners, the comment typed;
    the items asked."""
    asked: list[str] = []
    for _ in range(60):
        datas = buttons(person.last_message())
        if not datas:
            return asked  # the thanks
        asked += [data.split(":")[1] for data in datas if data.startswith(("a:", "s:"))][:1]
        if "consent:yes" in datas:
            choice = "consent:yes"
        elif "result:yes" in datas:
            assert "MỘT lần" in (person.keyboard_message() or SentMessage()).text  # type: ignore[call-arg]
            choice = f"result:{follow_up}"
        elif any(data.startswith("s:y_kien_khac") for data in datas):
            await say(telegram, person, COMMENT, POLLING)
            continue
        elif "a:15:5" in datas:
            choice = "a:15:5"  # not all alike: no straight-lining flag
        elif any(data.endswith(":4") for data in datas):
            choice = next(data for data in datas if data.endswith(":4"))
        elif any(data.endswith(":no") for data in datas):
            choice = next(data for data in datas if data.endswith(":no"))
        else:
            choice = next(data for data in datas if data.startswith("a:"))
        await tap(telegram, person, choice, POLLING)
    raise AssertionError(f"the survey did not end: {asked}")


def exported(url: str, monkeypatch: pytest.MonkeyPatch, out: Path) -> dict[str, dict[str, str]]:
    """`sipas aggregate`, then `sipas export` of this month at the counter: rows by item code
    (in a thread of its own: the commands run their own event loop)."""
    monkeypatch.setenv("SIPAS_DATABASE_URL", url)
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIPAS_MIN_CELL_SIZE", "1")
    monkeypatch.setenv("SIPAS_SPEEDING_SECONDS", "0")  # a scripted respondent taps fast
    runner = CliRunner()
    aggregated = runner.invoke(cli, ["aggregate"], catch_exceptions=False)
    assert aggregated.exit_code == 0, aggregated.output
    month = reporting_day(datetime.now(UTC), ZONE).strftime("%Y-%m")
    arguments = ["export", "--period", month, "--level", "service_point", "--out", str(out)]
    done = runner.invoke(cli, [*arguments, "--no-raw"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    rows = csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")))
    return {
        row["code"] or "overall": row
        for row in rows
        if row["unit_code"] == POINT and row["respondent_type"] == "all"
    }


async def follow_ups(url: str) -> list[ResultFollowUp]:
    database = Database(url)
    try:
        async with database.reading() as tx:
            return list((await tx.scalars(select(ResultFollowUp))).all())
    finally:
        await database.dispose()


async def stored_text(url: str) -> str:
    database = Database(url)
    try:
        return await database_text(database)
    finally:
        await database.dispose()


async def test_not_yet_received_and_agreed_gets_the_result_questions_when_the_api_says_so(
    telegram: FakeTelegram,
    served_url: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url, key = served_url
    settings = settings_for(telegram, url, http_port=free_port())
    person = telegram.user(first_name="Trần Thị Bình", username="binh_hn", language_code="vi")
    auth = {"Authorization": f"Bearer {key}"}

    async with serving(settings) as base, httpx.AsyncClient(base_url=base) as one_stop:
        minted = await one_stop.post(
            "/api/v1/invitations",
            json={"service_point": POINT, "dossier_ref": DOSSIER},
            headers=auth,
        )
        invitation = minted.json()
        assert invitation["stage"] == "reception"
        await say(telegram, person, f"/start {invitation['payload']}", POLLING)
        await answer_the_survey(telegram, person, follow_up="yes")
        assert "nhắn Ông/Bà một lần" in text_of(person.last_message())
        kept = await stored_text(url)
        assert str(person.id) not in kept  # kept, but only encrypted

        before = len(person.messages())
        returned = await one_stop.post(
            f"/api/v1/invitations/{invitation['id']}/result-returned", headers=auth
        )
        assert returned.status_code == 202, returned.text
        await telegram.wait_for(lambda: "a:28:5" in buttons(person.last_message()), what="item 28")
        intro = person.messages()[before]
        assert "đã có kết quả" in intro.text and "3 câu" in intro.text
        for item in ("28", "29", "30"):
            assert buttons(person.keyboard_message())[0] == f"a:{item}:1"
            await tap(telegram, person, f"a:{item}:5", POLLING)
        assert "ghi cùng lần đánh giá trước" in text_of(person.last_message())
        # Asked again, the bot writes nothing more.
        shown = screen(person)
        again = await one_stop.post(
            "/api/v1/result-returned", json={"dossier_ref": DOSSIER}, headers=auth
        )
        assert again.status_code == 202 and again.json()["invitation_id"] == invitation["id"]
        assert screen(person) == shown

    [follow_up] = await follow_ups(url)
    assert follow_up.status == "answered" and follow_up.address_ciphertext is None
    stored = await stored_text(url)
    for secret in (str(person.id), "Trần Thị Bình", "binh_hn"):
        assert secret not in stored
        assert secret not in caplog.text
    rows = await asyncio.to_thread(exported, url, monkeypatch, tmp_path / "export.csv")
    assert rows["KET_QUA"]["n_valid"] == "3" and rows["KET_QUA"]["index_pct"] == "100.00"
    assert (rows["28"]["n_valid"], rows["28"]["n_satisfied"]) == ("1", "1")
    assert rows["overall"]["n_respondents"] == "1"


async def test_not_yet_received_and_declined_keeps_nothing_and_gets_nothing(
    telegram: FakeTelegram, served_url: tuple[str, str]
) -> None:
    url, key = served_url
    settings = settings_for(telegram, url, http_port=free_port())
    person = telegram.user()
    auth = {"Authorization": f"Bearer {key}"}

    async with serving(settings) as base, httpx.AsyncClient(base_url=base) as one_stop:
        body = {"service_point": POINT, "dossier_ref": DOSSIER}
        invitation = (await one_stop.post("/api/v1/invitations", json=body, headers=auth)).json()
        await say(telegram, person, f"/start {invitation['payload']}", POLLING)
        await answer_the_survey(telegram, person, follow_up="no")
        shown = screen(person)
        returned = await one_stop.post(
            f"/api/v1/invitations/{invitation['id']}/result-returned", headers=auth
        )
        assert returned.status_code == 202
        sent = len(telegram.api_calls("sendMessage"))

    assert screen(person) == shown
    assert len(telegram.api_calls("sendMessage")) == sent
    assert await follow_ups(url) == []
    assert str(person.id) not in await stored_text(url)


async def test_an_invitation_at_the_result_asks_the_result_questions_without_the_screener(
    telegram: FakeTelegram,
    served_url: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, key = served_url
    settings = settings_for(telegram, url, http_port=free_port())
    person = telegram.user()
    auth = {"Authorization": f"Bearer {key}"}

    async with serving(settings) as base, httpx.AsyncClient(base_url=base) as one_stop:
        body = {"service_point": POINT, "dossier_ref": DOSSIER, "stage": "result"}
        invitation = (await one_stop.post("/api/v1/invitations", json=body, headers=auth)).json()
        assert invitation["stage"] == "result"
        await say(telegram, person, f"/start {invitation['payload']}", POLLING)
        asked = await answer_the_survey(telegram, person, follow_up="no")
        assert "ket_qua_nhan" not in asked and {"28", "29", "30"} <= set(asked)
        wrong = await one_stop.post(
            "/api/v1/invitations",
            json={"service_point": POINT, "dossier_ref": "D-2", "stage": "pickup"},
            headers=auth,
        )
        assert wrong.status_code == 422 and "body.stage" in wrong.text

    rows = await asyncio.to_thread(exported, url, monkeypatch, tmp_path / "export.csv")
    assert rows["KET_QUA"]["n_valid"] == "3"
    assert await follow_ups(url) == []
