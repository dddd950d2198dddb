"""How replies appear in a Telegram chat: edited into the messages they take the place of, sent
below otherwise, and every keyboard they supersede stripped of its buttons.

A chat keeps one live keyboard, the current step's (two while the privacy notice's "full text"
button stands above the consent question). Which messages carry them is told by the caller
(`live`, kept in the database by the channel) and returned updated by `show`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram import Bot
from telegram.error import BadRequest

from channels.telegram_delivery import call
from channels.telegram_render import NO_PREVIEW, keyboard, split_text
from handlers.events import Reply

__all__ = ["EMPTY_TEXT", "send", "show"]

log = logging.getLogger(__name__)

EMPTY_TEXT = "…"  # Telegram refuses an empty message; a keyboard still needs a text above it


async def show(
    bot: Bot,
    chat_id: int,
    replies: Sequence[Reply],
    *,
    tapped: int | None = None,
    live: Sequence[int] = (),
) -> list[int]:
    """Show `replies` after a tap on message `tapped` (None: typed, or unprompted), while the
    messages `live` carry keyboards; the ids of the messages whose keyboards are live after.

    - All replies steps with buttons, one for each live keyboard, the tapped one among them
      (the language switched before consent: the notice and the question): each live message
      is edited into its reply.
    - Else, after a tap, a first reply that is a step is edited into the tapped message.
    - Whatever is left is sent below, in order.
    Every keyboard live before (the tapped one too) that is not shown again loses its buttons.
    """
    rest = list(replies)
    edited: list[tuple[int, Reply]] = []
    if tapped is not None and rest:
        if tapped in live and len(rest) == len(live) > 1 and all(r.buttons for r in rest):
            targets = list(live)
        else:
            targets = [tapped] if rest[0].question else []
        for message_id in targets:
            if not await _edit(bot, chat_id, message_id, rest[0]):
                break  # too old to edit, or gone: this and the rest come as new messages
            edited.append((message_id, rest.pop(0)))
    now_live = [message_id for message_id, reply in edited if reply.buttons]
    for reply in rest:
        sent = await send(bot, chat_id, reply)
        if sent is not None:
            now_live.append(sent)
    superseded = dict.fromkeys([*live, *([tapped] if tapped is not None else [])])
    for message_id in superseded:
        if message_id not in now_live and all(message_id != done for done, _ in edited):
            await _drop_keyboard(bot, chat_id, message_id)
    return now_live


async def send(bot: Bot, chat_id: int, reply: Reply) -> int | None:
    """Send `reply` as one or more messages, the keyboard under the last piece; the id of the
    message carrying the keyboard (None without one)."""
    markup = keyboard(reply)
    pieces = split_text(reply.text)
    if not pieces:
        if markup is None:
            return None
        pieces = [EMPTY_TEXT]
    result = None
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        result = await call(
            bot,
            "sendMessage",
            chat_id=chat_id,
            text=piece,
            reply_markup=markup if last else None,
            link_preview_options=NO_PREVIEW,
        )
    if markup is None or not isinstance(result, dict):
        return None
    message_id = result.get("message_id")
    return message_id if isinstance(message_id, int) else None


async def _edit(bot: Bot, chat_id: int, message_id: int, reply: Reply) -> bool:
    """Replace a message by `reply` in place; False when a new message must be sent instead."""
    pieces = split_text(reply.text)
    if len(pieces) != 1:
        return False
    try:
        await call(
            bot,
            "editMessageText",
            chat_id=chat_id,
            message_id=message_id,
            text=pieces[0],
            reply_markup=keyboard(reply),
            link_preview_options=NO_PREVIEW,
        )
    except BadRequest as error:
        if "not modified" in error.message.lower():
            return True  # a repeated tap: the message already shows this step
        # Too old to edit, deleted, ...: the step comes as a new message.
        log.info("editing a message in place failed (%s); sending it anew", error.message)
        return False
    return True


async def _drop_keyboard(bot: Bot, chat_id: int, message_id: int) -> None:
    """Remove the buttons of a message whose step is over."""
    try:
        await call(bot, "editMessageReplyMarkup", chat_id=chat_id, message_id=message_id)
    except BadRequest as error:
        # Already without buttons (another worker got there first), deleted, ...: nothing to do.
        log.info("removing a spent keyboard failed (%s)", error.message)
