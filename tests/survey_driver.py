"""Test support: a counter in the database and scripted respondents driving the survey engine."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from channels.telegram import SURFACE as TELEGRAM
from handlers.events import Button, Command, Inbound, InboundKind, Reply, Surface
from handlers.survey import EngineConfig, SurveyEngine
from storage.db import Database
from tests import hanoi
from tests.conftest import TEST_SECRET

POINT = "HN-00004-01"
OTHER_POINT = "HN-00004-02"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
_event_ids = itertools.count(1)


async def add_counters(database: Database) -> None:
    """Hà Nội, Phường Ba Đình, and two counters there."""
    async with database.transaction() as tx:
        tx.add(hanoi.city())
        await tx.flush()
        await hanoi.add_ward(tx, "00004", counters=(POINT, OTHER_POINT))


def engine_config(**overrides: object) -> EngineConfig:
    values: dict[str, object] = {"secret": TEST_SECRET, "zone": ZONE}
    values.update(overrides)
    return EngineConfig(**values)  # type: ignore[arg-type]


@dataclass
class Clock:
    """The time events are stamped with; tests move it forward."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 20, 3, 0, tzinfo=UTC))

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Respondent:
    """One person in one chat, talking to the engine as a channel would deliver their events."""

    engine: SurveyEngine
    chat: str
    clock: Clock
    channel: str = "telegram"
    locale: str | None = None
    surface: Surface = TELEGRAM  # the channel's, as its adapter would send
    screen: list[Reply] = field(default_factory=list)

    def inbound(self, kind: InboundKind, payload: str = "", event_id: str | None = None) -> Inbound:
        return Inbound(
            channel=self.channel,
            chat=self.chat,
            event_id=event_id or f"e{next(_event_ids)}",
            kind=kind,
            payload=payload,
            locale=self.locale,
            received_at=self.clock.now,
            surface=self.surface,
        )

    async def send(self, inbound: Inbound) -> list[Reply]:
        replies = await self.engine.handle(inbound)
        if replies:
            self.screen = replies
        self.clock.advance(seconds=5)
        return replies

    async def start(self, payload: str = "") -> list[Reply]:
        return await self.send(self.inbound(InboundKind.START, payload))

    async def begin(self, payload: str = "") -> list[Reply]:
        """Start from `payload` and accept the privacy notice: on the first question."""
        await self.start(payload)
        return await self.press("consent:yes")

    async def type(self, text: str) -> list[Reply]:
        return await self.send(self.inbound(InboundKind.TEXT, text))

    async def command(self, command: Command) -> list[Reply]:
        return await self.send(self.inbound(InboundKind.COMMAND, command.value))

    async def press(self, data: str) -> list[Reply]:
        return await self.send(self.inbound(InboundKind.CHOICE, data))

    @property
    def question(self) -> Reply:
        """The last reply carrying buttons or marked as the current question."""
        for reply in reversed(self.screen):
            if reply.question:
                return reply
        return self.screen[-1]

    def button(self, label: str) -> Button:
        for button in self.question.choices():
            if button.label == label:
                return button
        raise AssertionError(f"no button {label!r} in {[b.label for b in self.question.choices()]}")

    async def tap(self, label: str) -> list[Reply]:
        return await self.press(self.button(label).data)

    @property
    def current_item(self) -> str | None:
        """The item code the current question's answer buttons carry."""
        for button in self.question.choices():
            if button.data.startswith(("a:", "s:")):
                return button.data.split(":")[1]
        return None

    @property
    def asks_result_follow_up(self) -> bool:
        """Whether the current question asks if the bot may write when the result is returned."""
        return any(button.data.startswith("result:") for button in self.question.choices())

    async def answer(self, value: str) -> list[Reply]:
        item = self.current_item
        assert item is not None, f"not on a question: {self.question.text[:80]}"
        return await self.press(f"a:{item}:{value}")

    async def skip(self) -> list[Reply]:
        return await self.press(f"s:{self.current_item}")

    async def complete(
        self,
        payload: str,
        answers: dict[str, str] | None = None,
        default: str = "4",
        comment: str | None = None,
        result_follow_up: str = "no",
    ) -> list[Reply]:
        """Start, consent and answer everything: `answers` by item code, scale items `default`,
        screeners and the priorities' gate 'no', the profile's gate 'yes', other choices their
        first option, the comment typed when given, else skipped; asked whether the bot may
        write when the result is returned, `result_follow_up`."""
        await self.begin(payload)
        return await self.finish(answers, default, comment, result_follow_up)

    async def finish(
        self,
        answers: dict[str, str] | None = None,
        default: str = "4",
        comment: str | None = None,
        result_follow_up: str = "no",
    ) -> list[Reply]:
        """Answer everything from the current question on, as `complete` does."""
        answers = answers or {}
        for _ in range(80):
            if self.asks_result_follow_up:
                await self.press(f"result:{result_follow_up}")
                continue
            item = self.current_item
            if item is None:
                return self.screen
            if item in answers:
                await self.answer(answers[item])
            elif item.isdigit():
                await self.answer(default)
            elif item == "y_kien_khac" and comment is not None:
                await self.type(comment)
            elif item == "y_kien_khac":
                await self.skip()
            elif item in ("ket_qua_nhan", "pakn_da_tung", "uu_tien"):
                await self.answer("no")
            elif item == "thong_tin":
                await self.answer("yes")  # the profile is answered, with each first option
            else:
                first = self.question.choices()[0].data
                await self.press(first)
        raise AssertionError("survey did not end")
