"""What both Zalo channels share: numbered-text rendering, message splitting, typed commands, per-chat order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from handlers.events import InboundKind, Reply, command_named

__all__ = [
    "TRY_AGAIN",
    "ChatQueue",
    "classify_text",
    "numbered_messages",
    "numbered_text",
    "shown_text",
    "split_text",
    "truncate",
]

log = logging.getLogger(__name__)

START_COMMAND = "/start"

TRY_AGAIN = (
    "Xin lỗi, đã có lỗi. Vui lòng thử lại sau ít phút.\n"
    "Sorry, something went wrong. Please try again in a few minutes."
)


def truncate(text: str, limit: int) -> str:
    """`text` within `limit` characters, an ellipsis marking a cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def split_text(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at paragraph, line or word breaks.

    Never returns an empty piece (Zalo refuses empty messages).
    """
    pieces: list[str] = []
    rest = text.strip()
    while rest:
        if len(rest) <= limit:
            pieces.append(rest)
            break
        head = rest[:limit]
        cut = max(head.rfind("\n\n"), head.rfind("\n"), head.rfind(" "))
        if cut < limit // 2:  # a break that far back would leave a tiny piece: cut hard
            cut = limit
        piece, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if piece:
            pieces.append(piece)
    return pieces


def shown_text(reply: Reply) -> str:
    """The reply's text, its notice (a stale tap...) in front, as the console shows it."""
    text = reply.text.strip()
    if reply.notice:
        return f"({reply.notice})\n\n{text}" if text else f"({reply.notice})"
    return text


def numbered_text(reply: Reply) -> str:
    """The reply as text, one `[key] label` line per choice (as on the console)."""
    text = shown_text(reply)
    lines = [text] if text else []
    choices = [f"[{button.key}] {button.label}" for button in reply.choices()]
    if choices:
        lines += ["", *choices] if lines else choices
    return "\n".join(lines)


def numbered_messages(reply: Reply, limit: int) -> list[str]:
    """The numbered text of `reply` as messages within `limit`; the choices stay together at the end."""
    choices = "\n".join(f"[{button.key}] {button.label}" for button in reply.choices())
    whole = numbered_text(reply)
    if len(whole) <= limit:
        return [whole] if whole else []
    pieces = split_text(shown_text(reply), limit)
    if choices:
        if pieces and len(pieces[-1]) + 2 + len(choices) <= limit:
            pieces[-1] = f"{pieces[-1]}\n\n{choices}"
        else:
            pieces += split_text(choices, limit)
    return pieces


def classify_text(text: str) -> tuple[InboundKind, str]:
    """What typed text means: `/start CODE` a start, `/help`, `/xoa` & co. a command, the rest text.

    A first message that is a short code or "start CODE" is recognised by the
    engine itself, so plain text is passed on as it is.
    """
    stripped = text.strip()
    word, _, rest = stripped.partition(" ")
    lowered = word.casefold()
    if lowered == START_COMMAND:
        return InboundKind.START, rest.strip()
    command = command_named(lowered[1:]) if lowered.startswith("/") else None
    if command is not None:
        return InboundKind.COMMAND, command.value
    return InboundKind.TEXT, text


class ChatQueue:
    """Runs work in the background, one chat's jobs strictly in arrival order.

    A webhook is answered as soon as its event is queued; the engine serialises
    a respondent's events in the database, but only this keeps "1" typed before
    "2" from being processed after it.
    """

    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._running: set[asyncio.Task[None]] = set()

    def submit(self, chat: str, job: Callable[[], Awaitable[None]]) -> None:
        """Queue `job` behind the chat's earlier jobs."""
        previous = self._tails.get(chat)
        task = asyncio.create_task(self._run(previous, job))
        self._tails[chat] = task
        self._running.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._running.discard(finished)
            if self._tails.get(chat) is finished:
                del self._tails[chat]

        task.add_done_callback(done)

    @staticmethod
    async def _run(previous: asyncio.Task[None] | None, job: Callable[[], Awaitable[None]]) -> None:
        if previous is not None:
            await asyncio.wait({previous})  # its failure is its own: this job still runs
        try:
            await job()
        except Exception:
            log.exception("a queued Zalo event failed")

    @property
    def pending(self) -> int:
        return len(self._running)

    async def drain(self) -> None:
        """Wait for every queued job (shutdown: what was accepted is processed)."""
        while self._running:
            await asyncio.wait(set(self._running))
