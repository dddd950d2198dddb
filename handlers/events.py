"""What flows between channels and handlers: an `Inbound` event in, `Reply` values out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class InboundKind(StrEnum):
    """What the respondent did, independent of the platform."""

    START = "start"  # opened the chat: payload = start payload, short code, or ""
    CHOICE = "choice"  # tapped a button: payload = that button's `data`
    TEXT = "text"  # typed text (a number typed on a text-only channel counts as a choice)
    COMMAND = "command"  # payload = a `Command` value
    SHOW = "show"  # asked for the current step again (a web page reloaded): changes nothing


class Command(StrEnum):
    """Commands every channel offers (Telegram: /help, /language, /cancel, /delete, /privacy)."""

    HELP = "help"
    LANGUAGE = "language"
    CANCEL = "cancel"
    DELETE = "delete"
    PRIVACY = "privacy"  # the full privacy notice


@dataclass(frozen=True)
class Inbound:
    """One platform event, translated by a channel adapter.

    `chat` is the platform's address of the respondent (on Telegram the private
    chat id, which equals the user id). Handlers derive the respondent key from it
    and never store it in clear.
    """

    channel: str
    chat: str
    event_id: str
    kind: InboundKind
    payload: str = ""
    locale: str | None = None
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Button:
    """A choice offered with a question.

    `data` is ASCII and at most `questionnaires.choices.MAX_CHOICE_DATA_BYTES` and comes
    back as the payload of a CHOICE event. `key` is what to type on a channel without
    buttons ("1".."5", "0" for skip): the engine accepts a typed key as the tap.
    """

    label: str
    data: str
    key: str


@dataclass(frozen=True)
class Reply:
    """A message to show. `buttons` are rows of choices; `question` marks the current
    question, which a channel may edit in place of the previous one; `notice` is a
    short acknowledgement for platforms that show one (Telegram's callback answer)."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    question: bool = False
    notice: str | None = None

    def choices(self) -> list[Button]:
        """All buttons, in reading order."""
        return [button for row in self.buttons for button in row]
