"""Property-based tests of the survey engine: random event sequences against the invariants.

Whatever a respondent (or Telegram) sends, in any order: no answer is ever stored
for an item the skip logic hides, no committed answer disappears except by the
respondent's own doing, a redelivered event changes nothing, and every session
is left in a state the engine can continue from. SQLite only, bounded examples.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.events import Button, Command, Inbound, InboundKind
from handlers.survey import SurveyEngine
from questionnaires import Questionnaire, load_bundled
from storage.db import Database
from storage.invitations import counter_payload
from storage.migrate import upgrade
from tests.conftest import TEST_SECRET
from tests.survey_driver import OTHER_POINT, POINT, Clock, Respondent, add_counters, engine_config

QUESTIONNAIRE = load_bundled()
ITEM_CODES = [item.code for item in QUESTIONNAIRE.items]
TYPED = ["1", "4", "5", "0", "<", "skip", "quay lại", "không biết", "Tốt lắm, cảm ơn", "/start"]
# Choices after which the respondent's answers may legitimately be gone: confirmed deletions,
# a restart, a decline, and the new survey of another counter (`new:<its code>`) confirmed.
DESTRUCTIVE_CHOICES = {"del:yes", "cancel:yes", "resume:restart", "consent:no"}
DESTRUCTIVE_PREFIX = "new:"


def destroys(data: str) -> bool:
    return data in DESTRUCTIVE_CHOICES or data.startswith(DESTRUCTIVE_PREFIX)


Action = tuple[str, int, int]
ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(
            ["tap"] * 6
            + ["forward"] * 6
            + ["stale", "type", "redeliver", "back", "start", "other_counter"]
            + ["cancel", "delete", "language", "help", "restart", "decline"]
        ),
        st.integers(0, 60),
        st.integers(0, 6),
    ),
    min_size=5,
    max_size=60,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database with two counters, copied for each example (migrating is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"

    async def build() -> None:
        url = f"sqlite+aiosqlite:///{path}"
        await upgrade(url)
        database = Database(url)
        await add_counters(database)
        await database.dispose()

    asyncio.run(build())
    return path


@dataclass(frozen=True)
class Snapshot:
    """What the database holds for the respondents, read with plain sqlite3."""

    sessions: tuple[tuple[int, str, str, str | None], ...]  # id, key, status, current item
    answers: dict[int, dict[str, str | None]]
    responses: frozenset[int]

    @classmethod
    def read(cls, path: Path) -> Snapshot:
        with sqlite3.connect(path) as connection:
            sessions = tuple(
                connection.execute(
                    "SELECT id, respondent_key, status, current_item FROM survey_sessions"
                    " ORDER BY id"
                )
            )
            answers: dict[int, dict[str, str | None]] = {}
            for session_id, code, value in connection.execute(
                "SELECT session_id, item_code, value FROM answers"
            ):
                answers.setdefault(session_id, {})[code] = value
            responses = frozenset(
                row[0] for row in connection.execute("SELECT session_id FROM responses")
            )
        return cls(sessions, answers, responses)

    def open_sessions(self) -> Iterator[tuple[int, str, str, str | None]]:
        return (session for session in self.sessions if session[2] in ("consent", "active"))


def assert_valid(snapshot: Snapshot, questionnaire: Questionnaire) -> None:
    """The invariants every committed state keeps."""
    keys = [key for _id, key, _status, _item in snapshot.open_sessions()]
    assert len(keys) == len(set(keys)), "a respondent has two open sessions"
    for session_id, _key, status, current in snapshot.sessions:
        answers = snapshot.answers.get(session_id, {})
        visible = {item.code for item in questionnaire.visible_items(answers)}
        hidden = set(answers) - visible
        assert not hidden, f"answers to hidden items {hidden} in a {status} session"
        if status == "consent":
            assert answers == {} and current is None
        elif status == "active":
            assert current in visible, f"current item {current} is not shown"
        elif status == "completed":
            assert session_id in snapshot.responses and current is None
            assert questionnaire.next_item(answers) is None, "completed with questions left"
        else:
            assert status in ("cancelled", "declined", "expired")
            assert answers == {} and current is None
            assert session_id not in snapshot.responses


def assert_nothing_lost(
    before: Snapshot, after: Snapshot, answered: str | None, questionnaire: Questionnaire
) -> None:
    """Every answer committed before is still there, unless this event changed it or hid it."""
    for session_id, previous in before.answers.items():
        now = after.answers.get(session_id, {})
        visible = {item.code for item in questionnaire.visible_items(now)}
        for code, value in previous.items():
            if code == answered or code not in visible:
                continue
            assert now.get(code, "<gone>") == value, f"answer to {code} lost or changed"


class Scenario:
    """One respondent acting out a list of actions, the invariants checked after each event."""

    def __init__(self, path: Path, engine: SurveyEngine) -> None:
        self.path = path
        self.engine = engine
        self.respondent = Respondent(engine, "4242", Clock())
        self.sent: list[Inbound] = []
        self.counter: str | None = None  # the start payload of the survey under way

    async def act(self, name: str, number: int, choice: int) -> None:
        respondent = self.respondent
        before = Snapshot.read(self.path)
        answered = self.current_item()
        inbound = self.inbound(name, number, choice)
        if inbound is None:
            return
        destructive = self.destructive(inbound)  # judged on the screen the respondent saw
        await respondent.send(inbound)
        if inbound.kind is InboundKind.START and name != "redeliver":
            self.counter = inbound.payload
        after = Snapshot.read(self.path)
        assert_valid(after, self.engine.questionnaire)
        if name == "redeliver":
            assert after == before, "a redelivered event changed something"
        elif not destructive:
            assert_nothing_lost(before, after, answered, self.engine.questionnaire)
        self.sent.append(inbound)

    def destructive(self, inbound: Inbound) -> bool:
        """Whether the respondent asked for their answers to go (however they asked)."""
        if inbound.kind is InboundKind.COMMAND:
            return inbound.payload == Command.CANCEL.value
        if inbound.kind is InboundKind.START:
            # Another counter's code abandons the unfinished survey of the first.
            return inbound.payload != self.counter
        if inbound.kind is InboundKind.CHOICE:
            return destroys(inbound.payload)
        typed = inbound.payload.casefold()
        buttons = self.respondent.question.choices() if self.respondent.screen else ()
        return any(
            destroys(button.data) and typed in (button.key.casefold(), button.label.casefold())
            for button in buttons
        )

    def current_item(self) -> str | None:
        """The item the respondent's screen shows, if any."""
        return self.respondent.current_item if self.respondent.screen else None

    def inbound(self, name: str, number: int, choice: int) -> Inbound | None:
        respondent = self.respondent
        if name == "redeliver":
            if not self.sent:
                return None
            original = self.sent[number % len(self.sent)]
            return respondent.inbound(original.kind, original.payload, event_id=original.event_id)
        if name in ("start", "other_counter"):
            point = OTHER_POINT if name == "other_counter" else POINT
            return respondent.inbound(InboundKind.START, counter_payload(TEST_SECRET, point))
        commands = {"cancel": Command.CANCEL, "language": Command.LANGUAGE, "help": Command.HELP}
        if name in commands:
            return respondent.inbound(InboundKind.COMMAND, commands[name].value)
        choices = {
            "delete": "del:yes",
            "restart": "resume:restart",
            "decline": "consent:no",
            "back": f"b:{self.current_item()}",
        }
        if name in choices:
            return respondent.inbound(InboundKind.CHOICE, choices[name])
        if name == "stale":
            return respondent.inbound(
                InboundKind.CHOICE, f"a:{ITEM_CODES[number % len(ITEM_CODES)]}:{choice}"
            )
        if name == "type":
            return respondent.inbound(InboundKind.TEXT, TYPED[number % len(TYPED)])
        buttons: Sequence[Button] = respondent.question.choices() if respondent.screen else ()
        if name == "forward":
            buttons = tuple(
                button
                for button in buttons
                if button.data.startswith(("a:", "s:", "consent:yes", "resume:go"))
            )
        if not buttons:
            return respondent.inbound(InboundKind.START, counter_payload(TEST_SECRET, POINT))
        return respondent.inbound(InboundKind.CHOICE, buttons[number % len(buttons)].data)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions=ACTIONS)
def test_random_event_sequences_keep_the_invariants(
    template: Path, tmp_path: Path, actions: list[Action]
) -> None:
    path = tmp_path / f"example-{abs(hash(tuple(actions)))}.db"
    shutil.copy(template, path)

    async def run() -> None:
        database = Database(f"sqlite+aiosqlite:///{path}")
        try:
            engine = SurveyEngine(database, QUESTIONNAIRE, engine_config())
            scenario = Scenario(path, engine)
            for action in actions:
                await scenario.act(*action)
        finally:
            await database.dispose()

    try:
        asyncio.run(run())
    finally:
        path.unlink(missing_ok=True)


def test_a_whole_survey_with_changes_of_mind_keeps_the_invariants(
    template: Path, tmp_path: Path
) -> None:
    """The path random sequences rarely reach: to the end, with a screener changed on the way."""
    path = tmp_path / "complete.db"
    shutil.copy(template, path)
    actions: list[Action] = [("start", 0, 0)] + [("forward", 0, 0)] * 12
    actions += [("back", 0, 0), ("back", 0, 0), ("tap", 4, 0)] + [("forward", 1, 0)] * 60

    async def run() -> None:
        database = Database(f"sqlite+aiosqlite:///{path}")
        try:
            scenario = Scenario(path, SurveyEngine(database, QUESTIONNAIRE, engine_config()))
            for action in actions:
                await scenario.act(*action)
        finally:
            await database.dispose()

    asyncio.run(run())
    assert Snapshot.read(path).responses
