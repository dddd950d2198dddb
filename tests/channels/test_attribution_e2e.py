"""Ratings belong to the procedure's competent authority, end to end: the one-stop system mints
invitations with a procedure and an authority at counters of two branches, respondents answer on
Telegram (the real python-telegram-bot stack against the fake Bot API), and `sipas aggregate`
then `sipas export --level authority` give each authority exactly its respondents."""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter
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
from storage.models import Invitation, Response
from storage.procedures import load_sample_procedures
from storage.units import load_sample
from tests.channels.test_result_follow_up_e2e import answer_the_survey
from tests.channels.test_telegram_e2e import POLLING, free_port, say, serving, settings_for
from tests.conftest import TEST_SECRET
from tests.fakes.telegram_server import FakeTelegram
from tests.survey_driver import ZONE

BA_DINH = "HN-00004-01"  # a counter of the service centre's Ba Đình branch
HOAN_KIEM = "HN-00070-01"  # and one of its Hoàn Kiếm branch

# (counter, what the one-stop system sends beyond it, the authority the rating belongs to)
DOSSIERS = [
    # A criminal-record certificate: the catalogue's default authority, the Sở Tư pháp,
    # wherever it was handed in.
    (BA_DINH, {"procedure_code": "1.001022"}, "HN-STP"),
    (HOAN_KIEM, {"procedure_code": "1.001022", "submitted_via": "online"}, "HN-STP"),
    # A birth registration is the commune's: the ward where the counter stands.
    (HOAN_KIEM, {"procedure_code": "1.001193"}, "00070"),
    # Named outright by the one-stop system.
    (BA_DINH, {"procedure_code": "1.009972", "authority": "HN-SXD"}, "HN-SXD"),
    (HOAN_KIEM, {"authority": "HN-SXD", "submitted_via": "post"}, "HN-SXD"),
]


# What each respondent reads first after consent: the counter, and what the invitation named.
SUBJECTS = [
    "Quầy: Chi nhánh Ba Đình – quầy 1 · Thủ tục: Cấp Phiếu lý lịch tư pháp · "
    "Cơ quan giải quyết: Sở Tư pháp thành phố Hà Nội",
    "Quầy: Chi nhánh Hoàn Kiếm – quầy 1 · Thủ tục: Cấp Phiếu lý lịch tư pháp · "
    "Cơ quan giải quyết: Sở Tư pháp thành phố Hà Nội",
    "Quầy: Chi nhánh Hoàn Kiếm – quầy 1 · Thủ tục: Đăng ký khai sinh · "
    "Cơ quan giải quyết: Phường Hoàn Kiếm",
    "Quầy: Chi nhánh Ba Đình – quầy 1 · Thủ tục: Cấp giấy phép xây dựng · "
    "Cơ quan giải quyết: Sở Xây dựng thành phố Hà Nội",
    "Quầy: Chi nhánh Hoàn Kiếm – quầy 1 · Cơ quan giải quyết: Sở Xây dựng thành phố Hà Nội",
]


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def served_url(tmp_path: Path) -> tuple[str, str]:
    """The Hà Nội sample with its procedure catalogue, and a key for the city's one-stop system."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}"
    await upgrade(url)
    database = Database(url)
    async with database.transaction() as tx:
        await load_sample(tx)
        await load_sample_procedures(tx)
        key = await create_api_key(
            tx, name="mot-cua-ha-noi", unit_codes=["01"], now=datetime.now(UTC)
        )
    await database.dispose()
    return url, key.key


def exported(url: str, monkeypatch: pytest.MonkeyPatch, out: Path) -> dict[str, str]:
    """`sipas aggregate --full`, then `sipas export --level authority` of this month: the respondents
    of each authority (in a thread of its own: the commands run their own event loop)."""
    monkeypatch.setenv("SIPAS_DATABASE_URL", url)
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIPAS_MIN_CELL_SIZE", "1")
    monkeypatch.setenv("SIPAS_SPEEDING_SECONDS", "0")  # a scripted respondent taps fast
    runner = CliRunner()
    # --full: the service may have counted the day already, by its own settings.
    aggregated = runner.invoke(cli, ["aggregate", "--full"], catch_exceptions=False)
    assert aggregated.exit_code == 0, aggregated.output
    assert f"{len(DOSSIERS)} response(s)" in aggregated.output
    month = reporting_day(datetime.now(UTC), ZONE).strftime("%Y-%m")
    arguments = ["export", "--period", month, "--level", "authority", "--out", str(out)]
    done = runner.invoke(cli, [*arguments, "--no-raw"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    rows = csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")))
    return {
        row["unit_code"]: row["n_respondents"]
        for row in rows
        if row["respondent_type"] == "all" and row["scope"] == "overall"
    }


async def stored(url: str) -> list[tuple[str, str | None, str | None, str]]:
    database = Database(url)
    try:
        async with database.reading() as tx:
            rows = await tx.execute(
                select(
                    Response.service_point_code,
                    Response.procedure_code,
                    Response.authority_code,
                    Response.submitted_via,
                ).order_by(Response.id)
            )
            return [tuple(row) for row in rows]
    finally:
        await database.dispose()


async def test_each_authority_gets_exactly_the_respondents_of_its_dossiers_at_any_counter(
    telegram: FakeTelegram,
    served_url: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, key = served_url
    settings = settings_for(telegram, url, http_port=free_port())
    auth = {"Authorization": f"Bearer {key}"}

    async with serving(settings) as base, httpx.AsyncClient(base_url=base) as one_stop:
        for number, (counter, about, authority) in enumerate(DOSSIERS, start=1):
            body = {"service_point": counter, "dossier_ref": f"D-{number}", **about}
            minted = await one_stop.post("/api/v1/invitations", json=body, headers=auth)
            assert minted.status_code == 201, minted.text
            assert minted.json()["authority"] == authority
            person = telegram.user()
            await say(telegram, person, f"/start {minted.json()['payload']}", POLLING)
            await answer_the_survey(telegram, person, follow_up="no")
            told = [message.text for message in person.messages()]
            assert told.count(SUBJECTS[number - 1]) == 1

    assert await stored(url) == [
        (counter, about.get("procedure_code"), authority, about.get("submitted_via", "direct"))
        for counter, about, authority in DOSSIERS
    ]
    respondents = await asyncio.to_thread(exported, url, monkeypatch, tmp_path / "authority.csv")
    expected = Counter(authority for _, _, authority in DOSSIERS)
    assert respondents == {code: str(n) for code, n in expected.items()}


async def test_an_unknown_authority_procedure_or_submission_is_refused_and_nothing_is_stored(
    telegram: FakeTelegram, served_url: tuple[str, str]
) -> None:
    url, key = served_url
    settings = settings_for(telegram, url, http_port=free_port())
    auth = {"Authorization": f"Bearer {key}"}
    wrong = [
        ({"authority": "HN-NOWHERE"}, "body.authority", "unknown authority 'HN-NOWHERE'"),
        ({"procedure_code": "9.999999"}, "body.procedure_code", "unknown procedure '9.999999'"),
        ({"submitted_via": "fax"}, "body.submitted_via", "'direct', 'online' or 'post'"),
        ({"stage": "pickup"}, "body.stage", "'reception' or 'result'"),
    ]
    async with serving(settings) as base, httpx.AsyncClient(base_url=base) as one_stop:
        for about, location, message in wrong:
            body = {"service_point": BA_DINH, "dossier_ref": "D-1", **about}
            refused = await one_stop.post("/api/v1/invitations", json=body, headers=auth)
            assert refused.status_code == 422, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            [error] = refused.json()["errors"]
            assert error["location"] == location and message in error["message"]
    database = Database(url)
    try:
        async with database.reading() as tx:
            assert (await tx.execute(select(Invitation.id))).first() is None
    finally:
        await database.dispose()
