"""Reply values rendered for Telegram: message chunks within 4096 characters and inline keyboards."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, User

from handlers.events import Button, Reply
from questionnaires.choices import MAX_CHOICE_DATA_BYTES

__all__ = [
    "MAX_CALLBACK_NOTICE_LENGTH",
    "MAX_MESSAGE_LENGTH",
    "MAX_START_PAYLOAD_LENGTH",
    "NO_PREVIEW",
    "JsonObject",
    "keyboard",
    "locale_of",
    "notice_of",
    "split_text",
    "start_payload",
    "telegram_length",
]

# Telegram counts text in UTF-16 code units; counting the same way never overshoots.
MAX_MESSAGE_LENGTH = 4096
MAX_CALLBACK_NOTICE_LENGTH = 200
MAX_START_PAYLOAD_LENGTH = 64
SUPPORTED_LOCALES = ("vi", "en")

JsonObject = dict[str, Any]  # a Bot API object as sent on the wire
NO_PREVIEW: JsonObject = {"is_disabled": True}  # link_preview_options: no preview card


def telegram_length(text: str) -> int:
    """Length of `text` as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """`text` cut into pieces Telegram accepts: at paragraph, line or word breaks when possible.

    Never returns an empty piece (Telegram refuses empty messages) and never cuts a
    character in two.
    """
    pieces: list[str] = []
    rest = text.strip()
    while rest:
        if telegram_length(rest) <= limit:
            pieces.append(rest)
            break
        head = _longest_prefix(rest, limit)
        cut = max(head.rfind("\n\n"), head.rfind("\n"), head.rfind(" "))
        if cut < len(head) // 2:  # a break that far back would leave a tiny piece: cut hard
            cut = len(head)
        piece, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if piece:
            pieces.append(piece)
    return pieces


def _longest_prefix(text: str, limit: int) -> str:
    """The longest prefix of `text` of at most `limit` UTF-16 units."""
    used = 0
    for index, character in enumerate(text):
        used += 2 if ord(character) > 0xFFFF else 1
        if used > limit:
            return text[:index]
    return text


def keyboard(reply: Reply) -> JsonObject | None:
    """The inline keyboard of `reply` as the Bot API's reply_markup object, or None.

    Refuses callback data Telegram would reject. The object is shared: never change it.
    """
    return _markup(reply.buttons) if reply.buttons else None


# A survey shows the same few dozen keyboards over and over, so each is built once, and
# kept as the JSON object python-telegram-bot would make of it at every send.
@lru_cache(maxsize=1024)
def _markup(buttons: tuple[tuple[Button, ...], ...]) -> JsonObject:
    rows = []
    for row in buttons:
        for button in row:
            if not button.data.isascii() or not 0 < len(button.data) <= MAX_CHOICE_DATA_BYTES:
                raise ValueError(
                    f"callback data must be 1-{MAX_CHOICE_DATA_BYTES} ASCII bytes: {button.data!r}"
                )
        rows.append(
            [InlineKeyboardButton(button.label, callback_data=button.data) for button in row]
        )
    return InlineKeyboardMarkup(rows).to_dict()


def notice_of(replies: list[Reply]) -> str | None:
    """The first notice among `replies`, cut to what a callback answer may show."""
    for reply in replies:
        if reply.notice:
            return reply.notice[:MAX_CALLBACK_NOTICE_LENGTH]
    return None


def locale_of(user: User | None) -> str | None:
    """'vi' or 'en' from the user's Telegram app language, else None (the engine's default)."""
    if user is None or not user.language_code:
        return None
    language = user.language_code.split("-")[0].lower()
    return language if language in SUPPORTED_LOCALES else None


def start_payload(arguments: list[str] | None) -> str:
    """The deep-link payload of `/start <payload>`; "" when absent.

    Whatever was typed by hand is passed on (cut to the deep-link maximum) so that
    the engine, not the adapter, tells the respondent a code is not valid.
    """
    if not arguments:
        return ""
    return arguments[0][:MAX_START_PAYLOAD_LENGTH]
