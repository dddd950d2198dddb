"""The web form channel: the survey as server-rendered form pages, one step per page, no script.

Like the console, it turns what a person did into an `Inbound` and the engine's `Reply`
values into something to show; here a page of a form:

- `page_of(replies)`: the replies before the last are notices (with their own buttons, as
  the privacy notice's "full text"); the last is the step the respondent is on, whose
  buttons become submit buttons posting their `data` back
  (`choice`). Back, skip and "start again" are set apart from the answers; the engine's language
  button is left out, since every page's header has the switch (`lang:<code>`). A
  step whose only buttons are back and skip waits for typed text (`text`); a step
  without buttons ends the conversation (thanks, a refusal).
- `inbound_of(...)`, `start_of(...)`: a posted form as an `Inbound`. Every form carries a
  random `event` id, so a form posted twice (a reload, a double tap) is one event to the
  engine.

The HTTP side (routes, cookies, CSRF, templates) is `web.survey`'s; the engine does not
learn that a browser exists.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from handlers.events import Button, Command, Inbound, InboundKind, Reply, Surface
from handlers.survey import BACK_KEY, RESTART_KEY, SKIP_KEY
from questionnaires.choices import MAX_CHOICE_DATA_BYTES

__all__ = [
    "KIOSK",
    "MAX_TYPED_LENGTH",
    "SURFACES",
    "WEB",
    "BadForm",
    "Line",
    "Notice",
    "Page",
    "inbound_of",
    "new_event_id",
    "page_of",
    "start_of",
]

WEB = "web"  # a phone's browser, the respondent known by a cookie
KIOSK = "kiosk"  # a tablet at the counter, a new respondent after each reset
# Buttons, and the page's own controls instead of commands (privacy, "Xoá câu trả lời của
# tôi"); a kiosk forgets who answered, so nothing can be withdrawn from it afterwards.
SURFACES = {
    WEB: Surface(buttons=True, numbers=False, commands=False),
    KIOSK: Surface(buttons=True, numbers=False, commands=False, withdraw=False),
}
# Typed answers longer than this are refused as a whole: the engine cuts comments to its
# own, smaller limit, and a form is no way to post megabytes.
MAX_TYPED_LENGTH = 8000
EVENT_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
BULLET = "• "
LANGUAGE_DATA = "lang:"


class BadForm(Exception):
    """A posted form that no page of this channel sends: answer 400, change nothing."""


@dataclass(frozen=True)
class Line:
    """One line of a message; a bullet line is shown as an item of a list."""

    text: str
    bullet: bool = False


Paragraph = tuple[Line, ...]


@dataclass(frozen=True)
class Notice:
    """A message shown above the step (a notice, a confirmation), and its buttons if any."""

    text: tuple[Paragraph, ...]
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True)
class Page:
    """What one page shows: notices, then the current step and its controls."""

    notices: tuple[Notice, ...]
    lead: str | None  # the step's first paragraph when more follow: where the respondent is
    text: tuple[Paragraph, ...]
    options: tuple[Button, ...]
    back: Button | None
    skip: Button | None
    again: Button | None  # start an unfinished survey again (offered when it is resumed)
    typed: bool  # the step waits for typed text (a comment)

    @property
    def finished(self) -> bool:
        """Nothing more to answer: the conversation has ended (or never began)."""
        return not (self.options or self.back or self.skip or self.again or self.typed)


def _paragraphs(text: str) -> tuple[Paragraph, ...]:
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        paragraphs.append(
            tuple(
                Line(line.removeprefix(BULLET), bullet=True)
                if line.startswith(BULLET)
                else Line(line)
                for line in lines
            )
        )
    return tuple(paragraph for paragraph in paragraphs if paragraph)


def page_of(replies: Sequence[Reply]) -> Page:
    """The page showing `replies`: every one but the last as a notice, the last as the step."""
    if not replies:
        raise ValueError("a page shows at least one reply")
    *before, step = replies
    notices = [Notice(_paragraphs(reply.text), tuple(reply.choices())) for reply in before]
    if step.notice:
        notices.insert(0, Notice(((Line(step.notice),),)))
    text = _paragraphs(step.text)
    lead = None
    if step.question and len(text) > 1:
        lead, text = " ".join(line.text for line in text[0]), text[1:]
    options: list[Button] = []
    back = skip = again = None
    for button in step.choices():
        if button.key == BACK_KEY:
            back = button
        elif button.key == SKIP_KEY:
            skip = button
        elif button.key == RESTART_KEY:
            again = button
        elif not button.data.startswith(LANGUAGE_DATA):
            options.append(button)
    typed = step.question and not options and (back is not None or skip is not None)
    return Page(tuple(notices), lead, text, tuple(options), back, skip, again, typed)


def new_event_id() -> str:
    """A fresh id for one form: random, so it names no one and cannot be guessed."""
    return secrets.token_urlsafe(16)


def _event_id(form: Mapping[str, str]) -> str:
    event_id = form.get("event", "")
    if not EVENT_ID.match(event_id):
        raise BadForm("the form has no event id")
    return event_id


def start_of(
    channel: str,
    chat: str,
    payload: str,
    form: Mapping[str, str],
    *,
    locale: str | None,
    received_at: datetime,
) -> Inbound:
    """The event of a start button: `payload` (from the page's URL, never from the form)
    starts or resumes the survey it names."""
    return Inbound(
        channel,
        chat,
        _event_id(form),
        InboundKind.START,
        payload,
        locale,
        received_at,
        SURFACES[channel],
    )


def inbound_of(
    channel: str,
    chat: str,
    form: Mapping[str, str],
    *,
    locale: str | None,
    received_at: datetime,
) -> Inbound:
    """The event a posted form stands for: a tapped button (`choice`), a command (`command`),
    or typed text (`text`); BadForm for anything else."""
    event_id = _event_id(form)
    choice, command, typed = form.get("choice"), form.get("command"), form.get("text")
    if choice is not None:
        if not choice or not choice.isascii() or len(choice) > MAX_CHOICE_DATA_BYTES:
            raise BadForm("not a button of this channel")
        kind, payload = InboundKind.CHOICE, choice
    elif command is not None:
        if command not in set(Command):
            raise BadForm(f"no command {command[:20]!r}")
        kind, payload = InboundKind.COMMAND, command
    elif typed is not None:
        if len(typed) > MAX_TYPED_LENGTH:
            raise BadForm("the typed answer is too long")
        kind, payload = InboundKind.TEXT, typed
    else:
        raise BadForm("the form carries no answer")
    return Inbound(channel, chat, event_id, kind, payload, locale, received_at, SURFACES[channel])
