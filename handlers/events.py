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
    UNSUPPORTED = (
        "unsupported"  # sent what the survey cannot read (a sticker, a photo, a voice note)
    )


class Command(StrEnum):
    """Commands every channel offers (Telegram: /help, /language, /cancel, /delete, /privacy),
    each also under its Vietnamese name (`COMMAND_ALIASES`)."""

    HELP = "help"
    LANGUAGE = "language"
    CANCEL = "cancel"
    DELETE = "delete"
    PRIVACY = "privacy"  # the full privacy notice


# What Vietnamese speakers type, without diacritics (Telegram command names are [a-z0-9_]).
COMMAND_ALIASES = {
    "huongdan": Command.HELP,
    "ngonngu": Command.LANGUAGE,
    "dung": Command.CANCEL,
    "xoa": Command.DELETE,
    "baomat": Command.PRIVACY,
}


def command_named(name: str) -> Command | None:
    """The command a typed name stands for ("delete", "xoa", "XOA"), or None."""
    folded = name.casefold()
    for command in Command:
        if command.value == folded:
            return command
    return COMMAND_ALIASES.get(folded)


@dataclass(frozen=True)
class Surface:
    """What a channel shows the respondent and how they act on it: the survey's words follow it,
    so that no message speaks of buttons, numbers or commands the channel does not have.

    `buttons`: choices are buttons to tap. `numbers`: choices are (also) listed with a key to
    type, the only way where there are no buttons. `commands`: the respondent types commands
    (/xoa); without, the page carries its own controls. `withdraw`: the respondent can come
    back to delete their answers (a shared kiosk forgets who answered).
    """

    buttons: bool
    numbers: bool
    commands: bool = True
    withdraw: bool = True


TEXT_CHAT = Surface(buttons=False, numbers=True)  # the console, Zalo Bot: typed keys only


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
    surface: Surface = TEXT_CHAT


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
