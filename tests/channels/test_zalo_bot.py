"""The Zalo Bot Platform channel end to end: long polling or webhook, the real engine, a fake Bot API over HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from channels.zalo_bot import CHANNEL, ZaloBotApi, ZaloBotChannel, unwrap
from handlers.events import TEXT_CHAT, Button, Command, Inbound, InboundKind, Reply
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.db import Database
from storage.invitations import counter_short_code
from storage.models import Response
from tests.anonymity import database_text
from tests.conftest import TEST_SECRET
from tests.fakes.zalo_servers import FakeBotUser, FakeZaloBot, wait_until
from tests.survey_driver import POINT, add_counters, engine_config
from web.app import create_app
from web.zalo_webhooks import BOT_SECRET_HEADER, BOT_WEBHOOK_PATH, zalo_bot_webhook_router

WEBHOOK_SECRET = "zalo-bot-webhook-secret-42"


@pytest.fixture
def bot() -> Iterator[FakeZaloBot]:
    with FakeZaloBot() as fake:
        yield fake


@pytest.fixture
async def channel(database: Database, bot: FakeZaloBot) -> AsyncIterator[ZaloBotChannel]:
    await add_counters(database)
    engine = SurveyEngine(database, load_bundled(), engine_config())
    channel = ZaloBotChannel(engine, ZaloBotApi(bot.token, base_url=bot.url))
    yield channel
    await channel.close()


class HelpOnly:
    """A stand-in engine for tests about rendering: every event gets the same two replies."""

    def __init__(self) -> None:
        self.inbounds: list[Inbound] = []

    async def handle(self, inbound: Inbound) -> list[Reply]:
        self.inbounds.append(inbound)
        return [Reply("Hướng dẫn / Help"), Reply("Gõ mã / Type the code")]


@pytest.fixture
def help_only() -> HelpOnly:
    return HelpOnly()


@pytest.fixture
async def bare_channel(bot: FakeZaloBot, help_only: HelpOnly) -> AsyncIterator[ZaloBotChannel]:
    """A channel whose engine needs no database."""
    channel = ZaloBotChannel(help_only, ZaloBotApi(bot.token, base_url=bot.url))
    yield channel
    await channel.close()


async def type_and_wait(
    bot: FakeZaloBot, channel: ZaloBotChannel, user: FakeBotUser, text: str
) -> str:
    """Type `text` (delivered by getUpdates) and return the bot's newest message once answered."""
    before = len(user.messages())
    user.send(text)
    await wait_until(lambda: len(user.messages()) > before, what="a reply")
    await channel.drain()  # every message of the reply has gone out
    last = user.last_message()
    assert last is not None
    return last.text


# The engine is tested on both backends elsewhere; no SQL of this channel runs here.
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_complete_survey_by_long_polling(
    database: Database,
    bot: FakeZaloBot,
    channel: ZaloBotChannel,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await channel.launch(poll_timeout=1)
    minh = bot.user()

    shown = await type_and_wait(bot, channel, minh, counter_short_code(TEST_SECRET, POINT))
    assert "[1] Tôi đồng ý tham gia" in shown and "[3] English" in shown
    for _ in range(80):
        if "[" not in shown:
            break  # the thank-you
        choice = "4" if "[4]" in shown else ("0" if "[0]" in shown else "1")
        shown = await type_and_wait(bot, channel, minh, choice)
    else:
        raise AssertionError("the survey did not end")

    async with database.reading() as tx:
        responses = (await tx.execute(select(Response))).scalars().all()
    assert [r.channel for r in responses] == [CHANNEL]
    assert [c.method for c in bot.api_calls()][:2] == ["getMe", "deleteWebhook"]
    assert channel.delivery.failed == 0
    assert minh.id not in await database_text(database)
    assert minh.id not in caplog.text and "Trần Thị Bình" not in caplog.text


# The engine is tested on both backends elsewhere; no SQL of this channel runs here.
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_webhook_mode_registers_the_secret_and_takes_wrapped_or_bare_updates(
    database: Database, bot: FakeZaloBot, channel: ZaloBotChannel
) -> None:
    await channel.launch(
        webhook_url="https://survey.example.gov.vn/webhooks/zalo-bot",
        webhook_secret=WEBHOOK_SECRET,
    )
    assert bot.webhook == {
        "url": "https://survey.example.gov.vn/webhooks/zalo-bot",
        "secret_token": WEBHOOK_SECRET,
    }
    app = create_app([zalo_bot_webhook_router(channel.submit, WEBHOOK_SECRET)])
    minh = bot.user()
    headers = {BOT_SECRET_HEADER: WEBHOOK_SECRET, "content-type": "application/json"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        wrapped = {
            "ok": True,
            "result": minh.send(counter_short_code(TEST_SECRET, POINT), queue=False),
        }
        first = await http.post(BOT_WEBHOOK_PATH, content=json.dumps(wrapped), headers=headers)
        await channel.drain()
        bare = minh.send("1", queue=False)
        second = await http.post(BOT_WEBHOOK_PATH, content=json.dumps(bare), headers=headers)
        again = await http.post(BOT_WEBHOOK_PATH, content=json.dumps(bare), headers=headers)
        await channel.drain()

    assert [first.status_code, second.status_code, again.status_code] == [200, 200, 200]
    assert again.json() == {"detail": "duplicate"}
    texts = [m.text for m in minh.messages()]
    # The privacy notice, the consent question, what is rated, the first question.
    assert len(texts) == 4
    assert "[/privacy]" in texts[0] and "Tôi đồng ý tham gia" in texts[1]
    assert texts[2].startswith("Quầy: ") and "Người dân" in texts[3]


async def test_long_replies_are_cut_within_2000_characters_with_the_choices_last(
    bot: FakeZaloBot, bare_channel: ZaloBotChannel
) -> None:
    channel = bare_channel
    minh = bot.user()
    paragraph = "Thông tin về việc xử lý dữ liệu cá nhân của Ông/Bà. " * 12
    reply = Reply(
        "\n\n".join([paragraph] * 6),
        ((Button("Đồng ý", "consent:yes", "1"),), (Button("Không", "consent:no", "2"),)),
    )

    assert await channel.send_replies(minh.id, [reply])

    texts = [m.text for m in minh.messages()]
    assert len(texts) == 2
    assert all(len(text) <= 2000 for text in texts)
    assert texts[-1].endswith("[1] Đồng ý\n[2] Không")
    assert all(call.error_code == 0 for call in bot.api_calls("sendMessage"))


async def test_other_messages_groups_and_commands(
    bot: FakeZaloBot, bare_channel: ZaloBotChannel, help_only: HelpOnly
) -> None:
    channel = bare_channel
    minh = bot.user()
    sticker = minh.send("x", queue=False)
    del sticker["message"]["text"]
    sticker["event_name"] = "message.sticker.received"
    group = minh.send("/help", queue=False)
    group["message"]["chat"]["chat_type"] = "GROUP"

    await channel.process_update(sticker)
    assert len(minh.messages()) == 2, "the engine says it cannot read it"
    await channel.process_update(group)
    assert len(minh.messages()) == 2, "nothing is said in a group"
    await channel.process_update(minh.send("/huongdan", queue=False))
    assert len(minh.messages()) == 4, "a command in the private chat is answered"
    assert [(i.kind, i.payload, i.surface) for i in help_only.inbounds] == [
        (InboundKind.UNSUPPORTED, "", TEXT_CHAT),
        (InboundKind.COMMAND, Command.HELP.value, TEXT_CHAT),
    ]


def test_bodies_are_accepted_bare_or_wrapped() -> None:
    update = {"event_name": "message.text.received", "message": {"message_id": "m1"}}

    assert unwrap(update) == update
    assert unwrap({"ok": True, "result": update}) == update
    assert unwrap({"ok": True, "result": None}) is None
    assert unwrap([update]) is None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_sipas_serve_runs_the_zalo_bot_with_the_wiring(
    bot: FakeZaloBot, tmp_path: Path
) -> None:
    from bot.commands.serve import serve
    from bot.commands.zalo import zalo_router, zalo_task
    from bot.settings import load_settings

    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        secret_key=TEST_SECRET,
        zalo_bot_token=bot.token,
        zalo_bot_api_url=bot.url,
        http_port=free_port(),
    )
    stop = asyncio.Event()
    serving = asyncio.create_task(
        serve(settings, routers=[zalo_router], tasks=[zalo_task], stop=stop, handle_signals=False)
    )
    minh = bot.user()
    try:
        minh.send("/help")
        await wait_until(lambda: minh.last_message() is not None, what="a reply through serve")
    finally:
        stop.set()
        await asyncio.wait_for(serving, 10)

    assert [c.method for c in bot.api_calls()][:2] == ["getMe", "deleteWebhook"]
