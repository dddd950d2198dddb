"""Synthetic respondents taking the survey through the real engine, for demos, dashboards and load checks.

Every simulated respondent is a chat with a random id that sends the events a channel
would deliver (start with a counter token or a minted invitation, consent, one tap per
question, sometimes a comment) to `SurveyEngine.handle`, stamped with plausible times:
office hours over the last days, a few seconds per question. The engine must be built
with `simulated=True`, so that every session and response it stores is marked and
`storage.simulated.remove_simulated` can take them all out again.

Answers are drawn from a population fixed by the seed: each element has its own mean
satisfaction and each counter its own offsets, so rankings differ; screeners open their
blocks at realistic rates; a small share of speeders and straight-liners make the
quality flags show. The same seed gives the same answers.
"""

from __future__ import annotations

import asyncio
import math
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from handlers.events import Inbound, InboundKind, Reply
from handlers.survey import SurveyEngine
from problems import ProblemsFound
from questionnaires import Item, ItemType, Questionnaire
from questionnaires.choices import ANSWER, SKIP, answer_data, choice_data
from storage.invitations import (
    InvitationRefused,
    counter_payload,
    counter_short_code,
    issue_invitation,
    parse_counter_payload,
)
from storage.simulated import SIMULATED_CHANNEL
from storage.units import active_service_point_codes

__all__ = ["NoServicePoints", "SimulationReport", "simulate"]

# Shares of the synthetic population; plausible, not measured.
ORGANISATION_SHARE = 0.15
RESULT_RECEIVED_SHARE = 0.60  # ket_qua_nhan = yes: the KET_QUA block is asked
COMPLAINED_SHARE = 0.15  # pakn_da_tung = yes: the PAKN block is asked
PRIORITIES_SHARE = 0.30  # uu_tien = yes: the eight priorities are asked
OTHER_YES_SHARE = 0.50  # any other yes/no item
SKIP_SHARE = 0.03  # a skippable item left unanswered
PREFER_NOT_SHARE = 0.05  # "prefer not to say" on a profile item
COMMENT_SHARE = 0.08
INVITATION_SHARE = 0.20  # per-dossier invitations; the rest scan the counter's poster
ENGLISH_SHARE = 0.10
SPEEDER_SHARE = 0.05
STRAIGHT_LINER_SHARE = 0.04

OFFICE_OPENS = time(7, 30)
OFFICE_HOURS = 9.5  # 07:30 to 17:00
PREFER_NOT_VALUE = "khong_tra_loi"
SCREENER_SHARES = {
    "ket_qua_nhan": RESULT_RECEIVED_SHARE,
    "pakn_da_tung": COMPLAINED_SHARE,
    "uu_tien": PRIORITIES_SHARE,
}
COMMENTS = (
    "Cán bộ hướng dẫn nhiệt tình, chu đáo.",
    "Thời gian chờ đợi còn lâu, cần thêm quầy vào giờ cao điểm.",
    "Nên có thêm chỗ ngồi và nước uống cho người dân.",
    "Thủ tục nhanh gọn hơn trước nhiều.",
    "Mong cơ quan gửi tin nhắn khi có kết quả.",
    "Bãi gửi xe chật, khó tìm chỗ.",
    "Staff were helpful and spoke clearly.",
)

SimulationProgress = Callable[[int, int], None]
"""Called as (respondents done, respondents in all)."""


class NoServicePoints(ProblemsFound):
    """There is no active service point to simulate respondents at."""


@dataclass(frozen=True)
class SimulationReport:
    """What a simulation run did."""

    respondents: int
    completed: int
    invitations: int
    first_day: date
    last_day: date


@dataclass(frozen=True)
class _Population:
    """The answer tendencies the seed fixes: per element, per counter, per option."""

    element_mean: dict[str, float]
    point_offset: dict[str, float]
    point_element_offset: dict[tuple[str, str], float]
    option_weights: dict[str, list[float]]

    @classmethod
    def draw(
        cls, rng: random.Random, questionnaire: Questionnaire, points: list[str]
    ) -> _Population:
        elements = [element.code for element in questionnaire.elements]
        return cls(
            element_mean={code: rng.uniform(3.3, 4.4) for code in elements},
            point_offset={code: rng.gauss(0, 0.35) for code in points},
            point_element_offset={
                (point, element): rng.gauss(0, 0.25) for point in points for element in elements
            },
            option_weights={
                item.code: [rng.uniform(0.5, 3.0) for _ in item.options]
                for item in questionnaire.items
                if item.type is ItemType.CHOICE
            },
        )


class _Respondent:
    """One synthetic person: their counter, start time, habits and answers."""

    def __init__(
        self,
        rng: random.Random,
        population: _Population,
        point: str,
        started_at: datetime,
    ) -> None:
        self.rng = rng
        self.population = population
        self.point = point
        self.clock = started_at
        self.mood = rng.gauss(0, 0.5)
        self.speeder = rng.random() < SPEEDER_SHARE
        self.straight_value = (
            str(rng.choice((3, 4, 4, 5, 5))) if rng.random() < STRAIGHT_LINER_SHARE else None
        )
        self.locale = "en" if rng.random() < ENGLISH_SHARE else "vi"
        self.with_invitation = rng.random() < INVITATION_SHARE

    def pause(self, low: float, high: float) -> datetime:
        """Time passes while the person reads and taps; the new instant."""
        if self.speeder:
            low, high = 0.4, 1.4
        self.clock += timedelta(seconds=self.rng.uniform(low, high))
        return self.clock

    def choose(self, item: Item) -> str | None:
        """The value this person taps for `item`; None = skip; "" = nothing to type."""
        rng = self.rng
        if item.type is ItemType.TEXT:
            return rng.choice(COMMENTS) if rng.random() < COMMENT_SHARE else None
        if item.skippable and rng.random() < SKIP_SHARE:
            return None
        values = item.option_values()
        if item.type is ItemType.SCALE:
            return self._satisfaction(item, values)
        if item.type is ItemType.YES_NO:
            share = SCREENER_SHARES.get(item.code, OTHER_YES_SHARE)
            return "yes" if rng.random() < share else "no"
        if item.code == "respondent_type":
            return "organisation" if rng.random() < ORGANISATION_SHARE else "citizen"
        if PREFER_NOT_VALUE in values:
            if rng.random() < PREFER_NOT_SHARE:
                return PREFER_NOT_VALUE
            weights = self.population.option_weights[item.code]
            pairs = [(v, w) for v, w in zip(values, weights, strict=True) if v != PREFER_NOT_VALUE]
            return rng.choices([v for v, _ in pairs], [w for _, w in pairs])[0]
        return rng.choices(values, self.population.option_weights[item.code])[0]

    def _satisfaction(self, item: Item, values: list[str]) -> str:
        if self.straight_value is not None and self.straight_value in values:
            return self.straight_value
        element = item.element or ""
        population = self.population
        level = (
            population.element_mean.get(element, 3.8)
            + population.point_offset[self.point]
            + population.point_element_offset.get((self.point, element), 0.0)
            + self.mood
            + self.rng.gauss(0, 0.7)
        )
        # Scale values are "1".."n" in order; a level is rounded onto them.
        position = min(max(math.floor(level + 0.5), 1), len(values))
        return values[position - 1]


def _current_item(replies: list[Reply]) -> str | None:
    """The item the last question asks, from its answer or skip buttons; None when none is asked."""
    for reply in reversed(replies):
        for button in reply.choices():
            action, _, rest = button.data.partition(":")
            if action in (ANSWER, SKIP):
                return rest.split(":")[0]
    return None


def _counter_start(secret: str, point: str) -> str:
    """What a person scanning (or typing) the counter's poster sends to start."""
    payload = counter_payload(secret, point)
    try:
        parse_counter_payload(secret, payload)
    except InvitationRefused:
        # Some signatures contain "_", which the payload parser splits on; the poster's
        # short code starts the same survey (reported to storage.invitations' owner).
        return counter_short_code(secret, point)
    return payload


def _start_time(rng: random.Random, now: datetime, days: int, engine: SurveyEngine) -> datetime:
    """An instant during office hours on one of the last `days` local days, before now."""
    zone = engine.config.zone
    today = now.astimezone(zone).date()
    day = today - timedelta(days=rng.randrange(days))
    opens = datetime.combine(day, OFFICE_OPENS, tzinfo=zone)
    start = opens + timedelta(hours=rng.uniform(0, OFFICE_HOURS))
    if start > now - timedelta(hours=1):  # later today: it has not happened yet
        start -= timedelta(days=1)
    return start.astimezone(UTC)


async def _take_survey(
    engine: SurveyEngine, person: _Respondent, payload: str, run: str, index: int
) -> bool:
    """Send one person's events through the engine; whether the survey completed."""
    chat = str(secrets.randbelow(9 * 10**9) + 10**9)
    step = 0

    async def send(kind: InboundKind, text: str, at: datetime) -> list[Reply]:
        nonlocal step
        step += 1
        return await engine.handle(
            Inbound(
                channel=SIMULATED_CHANNEL,
                chat=chat,
                event_id=f"{run}-{index}-{step}",
                kind=kind,
                payload=text,
                locale=person.locale,
                received_at=at,
            )
        )

    replies = await send(InboundKind.START, payload, person.clock)
    if not any(button.data == "consent:yes" for reply in replies for button in reply.choices()):
        return False  # refused: e.g. an inactive counter
    replies = await send(InboundKind.CHOICE, "consent:yes", person.pause(8, 40))
    questionnaire = engine.questionnaire
    for _ in range(2 * len(questionnaire.items) + 2):
        code = _current_item(replies)
        if code is None:
            return True
        item = questionnaire.item(code)
        value = person.choose(item)
        at = person.pause(3, 14) if item.type is not ItemType.TEXT else person.pause(20, 90)
        if value is None:
            replies = await send(InboundKind.CHOICE, choice_data(SKIP, code), at)
        elif item.type is ItemType.TEXT:
            replies = await send(InboundKind.TEXT, value, at)
        else:
            replies = await send(InboundKind.CHOICE, answer_data(code, value), at)
    return False


async def simulate(
    engine: SurveyEngine,
    *,
    respondents: int,
    days: int = 30,
    seed: int = 0,
    now: datetime | None = None,
    progress: SimulationProgress | None = None,
    concurrency: int = 4,
) -> SimulationReport:
    """Let `respondents` synthetic people take the survey at the active service points.

    NoServicePoints when there is none; ValueError for an engine not built with simulated=True.
    """
    if not engine.simulated:
        raise ValueError("build the engine with simulated=True, or its sessions look real")
    if respondents < 0 or days < 1:
        raise ValueError("respondents must be 0 or more and days at least 1")
    now = now or datetime.now(UTC)
    async with engine.database.reading() as session:
        points = await active_service_point_codes(session)
    if not points:
        raise NoServicePoints(
            "no active service point to simulate respondents at: "
            "load some first, e.g. `sipas units load --sample`"
        )
    generator = random.Random(seed)  # noqa: S311 (synthetic data, reproducible by design)
    population = _Population.draw(generator, engine.questionnaire, points)
    run = secrets.token_hex(4)  # event ids of two runs never collide
    secret = engine.config.secret
    zone = engine.config.zone
    completed_days: list[date] = []
    invitations = finished = 0
    slots = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        nonlocal invitations, finished
        # One generator per person: a person's answers depend on the seed and index only,
        # whatever order the concurrent surveys interleave in.
        rng = random.Random(f"{seed}:{index}")  # noqa: S311 (synthetic data, reproducible)
        point = rng.choice(points)
        person = _Respondent(rng, population, point, _start_time(rng, now, days, engine))
        async with slots:
            if person.with_invitation:
                async with engine.database.transaction() as tx:
                    minted = await issue_invitation(
                        tx,
                        secret,
                        service_point_code=point,
                        now=person.clock - timedelta(minutes=rng.uniform(1, 30)),
                        ttl=timedelta(hours=72),
                        dossier_ref=f"SIM-{run}-{index}",
                    )
                payload = minted.payload
                invitations += 1
            else:
                payload = _counter_start(secret, point)
            if await _take_survey(engine, person, payload, run, index):
                completed_days.append(person.clock.astimezone(zone).date())
        finished += 1
        if progress is not None:
            progress(finished, respondents)

    await asyncio.gather(*(one(index) for index in range(respondents)))
    today = now.astimezone(zone).date()
    return SimulationReport(
        respondents,
        len(completed_days),
        invitations,
        min(completed_days, default=today),
        max(completed_days, default=today),
    )
