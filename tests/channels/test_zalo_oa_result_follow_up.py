"""The result follow-up on a Zalo OA, end to end: signed webhooks in, the real engine, the
invitation API, real HTTP to the fake OA API. Zalo answers a user for free only within 48 hours
of their last message: later, nothing is sent and the follow-up counts as unreachable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from analytics.days import parse_period
from analytics.moments import moment_counts
from bot.maintenance import send_result_follow_ups
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.api_keys import create_api_key
from storage.db import Database
from storage.models import Answer, Response, ResultFollowUp
from tests.anonymity import database_text
from tests.channels.test_zalo_oa import Stack, new_stack, stacks, zalo
from tests.conftest import TEST_SECRET
from tests.fakes.zalo_servers import FakeOAUser, FakeZaloOA
from tests.survey_driver import POINT, ZONE, engine_config
from web.app import create_app
from web.invitation_api import invitation_router

__all__ = ["stacks", "zalo"]  # the fixtures, used here by name

AGREE = "Đồng ý, nhắn tôi một lần"


class OneStop:
    """The one-stop system: mints an invitation, says when the result was returned."""

    def __init__(self, client: httpx.AsyncClient, key: str) -> None:
        self.client = client
        self.auth = {"Authorization": f"Bearer {key}"}

    async def mint(self) -> dict[str, str]:
        body = {"service_point": POINT, "dossier_ref": "000.00.01.H26-261120-0007"}
        response = await self.client.post("/api/v1/invitations", json=body, headers=self.auth)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def result_returned(self, invitation_id: str) -> None:
        path = f"/api/v1/invitations/{invitation_id}/result-returned"
        response = await self.client.post(path, headers=self.auth)
        assert response.status_code == 202, response.text


@pytest.fixture
def now() -> list[datetime]:
    """The OA channel's clock (its messaging windows are judged by it)."""
    return [datetime.now(UTC)]


@pytest.fixture
async def setting(
    database: Database, zalo: FakeZaloOA, stacks: list[Stack], now: list[datetime]
) -> AsyncIterator[tuple[Stack, OneStop, SurveyEngine]]:
    engine = SurveyEngine(database, load_bundled(), engine_config(result_follow_up_days=60))
    stack = await new_stack(database, zalo, stacks, engine=engine, clock=lambda: now[0])
    await stack.credentials.set_refresh_token(zalo.issue_refresh_token())
    async with database.transaction() as tx:
        key = await create_api_key(tx, name="mot-cua", unit_codes=["00004"], now=now[0])
    senders = {"zalo_oa": stack.channel.send_reminder}

    async def send_owed() -> None:
        at = datetime.now(UTC)
        await send_result_follow_ups(engine, senders, await engine.due_result_follow_ups(at), at)

    router = invitation_router(
        database,
        secret=TEST_SECRET,
        bot_username="sipas_test_bot",
        public_url=None,
        default_ttl=timedelta(hours=72),
        send_result_follow_ups=send_owed,
    )
    transport = httpx.ASGITransport(app=create_app([router]))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield stack, OneStop(client, key.key), engine


async def answer_and_agree(stack: Stack, user: FakeOAUser, short_code: str) -> None:
    """Start from the short code and answer: "Chưa nhận" at the result screener, agree to be
    written to, 5 then 4 on the scales (typed), the first button elsewhere."""
    await stack.deliver(user.event(short_code))
    for _ in range(80):
        shown = user.last_message()
        assert shown is not None
        if not shown.buttons and "[" not in shown.text:
            return  # the thanks
        titles = shown.titles
        if "Chưa nhận" in titles:
            await stack.deliver(user.tap("Chưa nhận"))
        elif AGREE in titles:
            await stack.deliver(user.tap(AGREE))
        elif shown.buttons:
            forward = [title for title in titles if title not in ("English", "« Quay lại")]
            await stack.deliver(user.tap(forward[0]))
        else:
            await stack.deliver(user.event("5" if "Câu 2/" in shown.text else "4"))
    raise AssertionError("the survey did not end")


async def follow_up(database: Database) -> ResultFollowUp:
    async with database.reading() as tx:
        return (await tx.scalars(select(ResultFollowUp))).one()


async def test_within_48_hours_the_result_questions_go_as_a_free_reply_and_are_answered(
    database: Database,
    zalo: FakeZaloOA,
    setting: tuple[Stack, OneStop, SurveyEngine],
    now: list[datetime],
) -> None:
    stack, one_stop, _engine = setting
    lan = zalo.user()
    invitation = await one_stop.mint()
    await answer_and_agree(stack, lan, invitation["short_code"])
    before = len(lan.messages())

    now[0] += timedelta(hours=20)
    await one_stop.result_returned(invitation["id"])

    [question] = lan.messages()[before:]
    assert (
        question.free and "đã có kết quả" in question.text and "[5] Rất hài lòng" in question.text
    )
    for _ in range(3):
        await stack.deliver(lan.event("5"))
    assert "ghi cùng lần đánh giá trước" in (lan.last_message() or question).text
    async with database.reading() as tx:
        response = (await tx.scalars(select(Response))).one()
        rows = await tx.execute(
            select(Answer.item_code, Answer.value).where(Answer.session_id == response.session_id)
        )
        answers = dict(rows.tuples().all())
    assert [answers[item] for item in ("ket_qua_nhan", "28", "29", "30")] == ["yes", "5", "5", "5"]
    assert (await follow_up(database)).status == "answered"
    assert lan.id not in await database_text(database)


async def test_outside_48_hours_nothing_is_sent_and_it_counts_as_unreachable(
    database: Database,
    zalo: FakeZaloOA,
    setting: tuple[Stack, OneStop, SurveyEngine],
    now: list[datetime],
) -> None:
    stack, one_stop, _engine = setting
    lan = zalo.user()
    invitation = await one_stop.mint()
    await answer_and_agree(stack, lan, invitation["short_code"])
    messages, calls = len(lan.messages()), len(zalo.calls)

    now[0] += timedelta(hours=49)
    await one_stop.result_returned(invitation["id"])

    assert len(lan.messages()) == messages and len(zalo.calls) == calls
    kept = await follow_up(database)
    assert kept.status == "unreachable" and kept.address_ciphertext is None
    assert stack.channel.delivery.reminders_skipped == 1
    month = parse_period(datetime.now(UTC).astimezone(ZONE).strftime("%Y-%m"))
    counts = await moment_counts(database, month, ZONE)
    assert counts.follow_ups["unreachable"] == 1 and counts.follow_ups_agreed == 1
    assert lan.id not in await database_text(database)
