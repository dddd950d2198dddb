"""The `/webhooks/telegram` route: Telegram's POSTed updates, authenticated, bounded, de-duplicated."""

from __future__ import annotations

import hmac
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response

__all__ = [
    "MAX_BODY_BYTES",
    "SECRET_HEADER",
    "WEBHOOK_PATH",
    "UpdateSink",
    "telegram_webhook_router",
]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
MAX_BODY_BYTES = 1024 * 1024  # an update is a few kilobytes; anything near this is not Telegram
RECENT_UPDATES = 10_000

UpdateSink = Callable[[dict[str, Any]], Awaitable[None]]


class RecentUpdates:
    """The update ids seen lately, oldest forgotten first.

    Telegram redelivers an update it got no 2xx for; this answers such a retry at
    once. The survey engine's processed-events table is the durable guarantee (it
    also holds across processes and restarts); this set only saves the work.
    """

    def __init__(self, capacity: int = RECENT_UPDATES) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[int, None] = OrderedDict()

    def add(self, update_id: int) -> bool:
        """Remember `update_id`; False when it was already there."""
        if update_id in self._ids:
            return False
        self._ids[update_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return True

    def forget(self, update_id: int) -> None:
        """Let a failed update be processed when Telegram delivers it again."""
        self._ids.pop(update_id, None)


def telegram_webhook_router(
    process: UpdateSink, secret: str, *, max_body_bytes: int = MAX_BODY_BYTES
) -> APIRouter:
    """The webhook route handing each new update's JSON to `process` (the Telegram channel).

    Statuses: 403 without the secret header or with a wrong one, 413 for a body over
    `max_body_bytes`, 400 for anything that is not an update's JSON, 500 when
    processing failed (Telegram then delivers it again), 200 otherwise, including
    for an update already seen.
    """
    if not secret:
        raise ValueError("a webhook without a secret would accept anyone's updates")
    expected = secret.encode()
    recent = RecentUpdates()
    router = APIRouter()

    @router.post(WEBHOOK_PATH, include_in_schema=False)
    async def telegram_webhook(request: Request) -> Response:
        """Receive one update from Telegram."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return _status(403, "forbidden")
        body = await _bounded_body(request, max_body_bytes)
        if body is None:
            return _status(413, "request body too large")
        try:
            update = json.loads(body)
        except ValueError:
            return _status(400, "body is not JSON")
        update_id = update.get("update_id") if isinstance(update, dict) else None
        if type(update_id) is not int:
            return _status(400, "not a Telegram update")
        if not recent.add(update_id):
            return _status(200, "duplicate")
        try:
            await process(update)
        except Exception:
            recent.forget(update_id)
            log.exception("Telegram webhook update %d failed", update_id)
            return _status(500, "processing failed")
        return _status(200, "ok")

    return router


async def _bounded_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _status(code: int, detail: str) -> Response:
    return Response(json.dumps({"detail": detail}), status_code=code, media_type="application/json")
