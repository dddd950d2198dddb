"""A survey round end to end: the round file and invitations from the `sipas` CLI, an official
rating two Sở in turn over the real Telegram stack and the fake Bot API while a citizen answers
the citizen survey, then `sipas rounds show` and `sipas export --round`."""

from __future__ import annotations

import asyncio
import csv
import json
import statistics
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from handlers.catalog import load_catalog
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.db import Database
from storage.migrate import upgrade
from tests.channels.test_telegram_e2e import (
    COUNTER,
    POLLING,
    answer,
    assert_nothing_telegram_refuses,
    channel_on,
    current_item,
    responses,
    say,
    tap,
    telegram,
)
from tests.conftest import TEST_SECRET
from tests.fakes.telegram_server import FakeTelegram, FakeUser
from tests.survey_driver import add_counters, engine_config

__all__ = ["telegram"]  # the fake Bot API, the fixture of the Telegram end-to-end tests

TODAY = date.today()
ROUND_FILE = f"""
code: test-officials
title: {{vi: "Khảo sát cán bộ thử", en: "Test officials' survey"}}
questionnaire: par-officials-2025
opens: {TODAY - timedelta(days=1)}
closes: {TODAY + timedelta(days=30)}
minimum_cell: 1
units:
  - {{code: SO-TC, name: {{vi: "Sở Tài chính", en: "Department of Finance"}}}}
  - {{code: SO-NV, name: {{vi: "Sở Nội vụ", en: "Department of Home Affairs"}}}}
  - {{code: XA-BD, name: {{vi: "UBND phường Ba Đình", en: "Ba Đình ward"}}}}
groups:
  - code: LD_XA
    label: {{vi: "Lãnh đạo UBND cấp xã", en: "Commune leaders"}}
    target: 3
    rates: [SO-TC, SO-NV]
  - code: LD_SO
    label: {{vi: "Lãnh đạo Sở", en: "Leaders of Sở"}}
    target: 2
    rates: [XA-BD]
"""
UNIT_NAMES = ("Sở Tài chính", "Sở Nội vụ")
# What the official answers to item CODE about the N-th Sở: a value of its own per item and Sở.
AREAS = {
    "CD1": "CHI_DAO",
    "TC1": "THE_CHE",
    "TT1": "TTHC",
    "TT2": "TTHC",
    "BM1": "BO_MAY",
    "CV1": "CONG_VU",
    "TCC1": "TAI_CHINH",
    "SH1": "SO_HOA",
    "TD1": "TAC_DONG",
}


def value_for(item: str, place: int) -> str:
    return str((list(AREAS).index(item) + place) % 5 + 1)


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'rounds.db'}"
    monkeypatch.setenv("SIPAS_DATABASE_URL", url)
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIPAS_TELEGRAM_BOT_USERNAME", "sipas_test_bot")
    monkeypatch.setenv("SIPAS_LOG_LEVEL", "WARNING")

    async def seed() -> None:
        await upgrade(url)
        database = Database(url)
        await add_counters(database)
        await database.dispose()

    asyncio.run(seed())
    yield url


def sipas(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def invitations(folder: Path, group: str) -> list[dict[str, str]]:
    with (folder / f"test-officials-{group}-invitations.csv").open(encoding="utf-8") as file:
        return list(csv.DictReader(file))


async def rate_in_turn(telegram: FakeTelegram, official: FakeUser, payload: str) -> list[str]:
    """The official opens the invitation, agrees, confirms the group, rates each Sở (comment on
    the first, skipped on the second); the question texts asked about the Sở, in order."""
    await say(telegram, official, f"/start {payload}", POLLING)
    await tap(telegram, official, "consent:yes", POLLING)
    asked: list[str] = []
    while (message := official.last_message()) is not None and message.buttons:
        item = current_item(message)
        assert item is not None
        if item == "nhom":
            assert "Lãnh đạo UBND cấp xã" in message.text
            await tap(telegram, official, "a:nhom:yes", POLLING)
            continue
        asked.append(message.text)
        code, _, place = item.partition("#")
        if code == "YK" and place == "1":
            await say(telegram, official, "Cần công khai thêm thủ tục.", POLLING)
        elif code == "YK":
            await tap(telegram, official, f"s:{item}", POLLING)
        else:
            await tap(telegram, official, f"a:{item}:{value_for(code, int(place))}", POLLING)
    return asked


async def test_an_official_rates_two_so_in_turn_beside_the_citizen_survey(
    telegram: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    round_file = tmp_path / "round.yaml"
    round_file.write_text(ROUND_FILE, encoding="utf-8")
    out = tmp_path / "out"
    await asyncio.to_thread(sipas, "rounds", "create", str(round_file))
    await asyncio.to_thread(
        sipas, "rounds", "invite", "--round", "test-officials", "--group", "LD_XA",
        "--count", "2", "--out", str(out),
    )  # fmt: skip
    await asyncio.to_thread(
        sipas, "rounds", "invite", "--round", "test-officials", "--group", "LD_SO",
        "--count", "1", "--out", str(out),
    )  # fmt: skip
    commune_leaders, so_leaders = invitations(out, "LD_XA"), invitations(out, "LD_SO")
    assert len(commune_leaders) == 2 and len(so_leaders) == 1
    assert (out / "test-officials-LD_XA-slips.pdf").read_bytes().startswith(b"%PDF")
    first = commune_leaders[0]
    assert first["telegram_link"] == f"https://t.me/sipas_test_bot?start={first['payload']}"

    database = Database(database_url)
    engine = SurveyEngine(database, load_bundled(), engine_config())
    official, citizen, stranger = telegram.user(), telegram.user(), telegram.user()
    async with channel_on(telegram, engine):
        await say(telegram, citizen, f"/start {COUNTER}", POLLING)
        asked, _ = await asyncio.gather(
            rate_in_turn(telegram, official, first["payload"]),
            answer(telegram, citizen, POLLING),
        )
        # Opened again by the official who answered it, and by another account: refused.
        await say(telegram, official, f"/start {first['payload']}", POLLING)
        reused = official.last_message()
        await say(telegram, stranger, f"/start {first['payload']}", POLLING)
        spent = stranger.last_message()
        # The second code, opened by one account, is refused to another.
        await say(telegram, stranger, f"/start {commune_leaders[1]['payload']}", POLLING)
        await say(telegram, official, f"/start {commune_leaders[1]['short_code']}", POLLING)
        foreign = official.last_message()
        # Once the round is closed, its codes open nothing.
        await asyncio.to_thread(sipas, "rounds", "close", "test-officials")
        await say(telegram, citizen, f"/start {so_leaders[0]['payload']}", POLLING)
        closed = citizen.last_message()
        answered = await responses(database)
    await database.dispose()

    catalog = load_catalog()
    assert reused is not None and reused.text == catalog.text("vi", "invitation.completed")
    assert spent is not None and spent.text == catalog.text("vi", "invitation.completed")
    assert foreign is not None and foreign.text == catalog.text("vi", "invitation.claimed")
    assert closed is not None and closed.text == catalog.text("vi", "invitation.round_closed")
    # The block was asked twice, each question naming the So it is about, in turn.
    assert len(asked) == 2 * (len(AREAS) + 1)
    for place, name in enumerate(UNIT_NAMES, start=1):
        block = asked[(place - 1) * (len(AREAS) + 1) : place * (len(AREAS) + 1)]
        assert all(name in text for text in block)
        assert all(UNIT_NAMES[2 - place] not in text for text in block)
    assert answered == 1  # the citizen's, as ever
    assert_nothing_telegram_refuses(telegram)

    shown = json.loads(
        (await asyncio.to_thread(sipas, "rounds", "show", "test-officials", "--json")).output
    )
    groups = {group["group"]: group for group in shown["groups"]}
    assert (groups["LD_XA"]["target"], groups["LD_XA"]["invited"]) == (3, 2)
    assert (groups["LD_XA"]["started"], groups["LD_XA"]["completed"]) == (2, 1)
    assert (groups["LD_SO"]["invited"], groups["LD_SO"]["completed"]) == (1, 0)
    assert {u["code"]: u["ratings"] for u in shown["units"]} == {"SO-TC": 1, "SO-NV": 1, "XA-BD": 0}
    text = (await asyncio.to_thread(sipas, "rounds", "show", "test-officials")).output
    assert "1 of 3" in text

    await asyncio.to_thread(sipas, "export", "--round", "test-officials", "--out", str(out))
    with (out / "round-test-officials-results.csv").open(encoding="utf-8") as file:
        results = {(r["unit_code"], r["area"], r["group"]): r for r in csv.DictReader(file)}
    for place, unit in enumerate(("SO-TC", "SO-NV"), start=1):
        for area in dict.fromkeys(AREAS.values()):
            values = [int(value_for(i, place)) for i, a in AREAS.items() if a == area]
            for group in ("LD_XA", "ALL"):
                row = results[(unit, area, group)]
                assert row["n"] == "1"
                assert float(row["mean"]) == pytest.approx(statistics.fmean(values), abs=0.005)
                share = sum(v >= 4 for v in values) / len(values)
                assert float(row["share_4_5"]) == pytest.approx(share, abs=0.005)
    assert results[("XA-BD", "ALL", "ALL")]["n"] == "0"
    manifest = json.loads((out / "round-test-officials.manifest.json").read_text(encoding="utf-8"))
    assert manifest["completed_forms"] == 1
    assert [f["name"] for f in manifest["files"]] == [
        "round-test-officials-results.csv",
        "round-test-officials-comments.csv",
        "round-test-officials-progress.csv",
    ]
