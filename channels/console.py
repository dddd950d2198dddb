"""The console channel: the whole survey in a terminal, choices as numbered lines.

It is the way to see the product without a platform account, and the model of a
text-only channel: typed numbers are sent as text, and the engine maps them to
the buttons of the current question.
"""

from __future__ import annotations

import secrets
import textwrap
from collections.abc import Awaitable, Callable

from handlers.events import TEXT_CHAT, Inbound, InboundKind, Reply, command_named

CHANNEL = "console"
SURFACE = TEXT_CHAT  # numbered lines, typed

Handle = Callable[[Inbound], Awaitable[list[Reply]]]
Read = Callable[[str], Awaitable[str | None]]
Write = Callable[[str], None]


def render(reply: Reply, width: int = 78) -> str:
    """A reply as terminal text: the message, then one numbered line per choice."""
    lines = [textwrap.fill(part, width) if part else "" for part in reply.text.split("\n")]
    if reply.notice:
        lines.insert(0, f"({reply.notice})")
    for button in reply.choices():
        lines.append(f"  [{button.key}] {button.label}")
    return "\n".join(lines)


class ConsoleSession:
    """One respondent at a terminal: a fresh random chat id per run, so each run is a new person."""

    def __init__(
        self, handle: Handle, read: Read, write: Write, *, locale: str | None = None
    ) -> None:
        self._handle = handle
        self._read = read
        self._write = write
        self._locale = locale
        self.chat = secrets.token_hex(8)
        self._events = 0

    def _inbound(self, kind: InboundKind, payload: str) -> Inbound:
        self._events += 1
        return Inbound(
            CHANNEL,
            self.chat,
            f"{self.chat}-{self._events}",
            kind,
            payload,
            self._locale,
            surface=SURFACE,
        )

    async def _send(self, kind: InboundKind, payload: str) -> list[Reply]:
        replies = await self._handle(self._inbound(kind, payload))
        for reply in replies:
            self._write(render(reply) + "\n")
        return replies

    async def run(self, payload: str) -> None:
        """Start with `payload`, then relay typed lines until the survey ends or input closes."""
        replies = await self._send(InboundKind.START, payload)
        # Every step that waits for an answer offers choices (a comment offers skip and
        # back); the thank-you and every refusal offer none, and end the run.
        while any(reply.choices() for reply in replies):
            line = await self._read("> ")
            if line is None:
                self._write("\n")
                return
            typed = line.strip()
            if not typed:
                continue
            command = command_named(typed[1:]) if typed.startswith("/") else None
            if command is not None:
                replies = await self._send(InboundKind.COMMAND, command.value)
            else:
                replies = await self._send(InboundKind.TEXT, typed)
