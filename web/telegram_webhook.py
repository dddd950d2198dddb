"""The `/webhooks/telegram` route: Telegram's POSTed updates, authenticated, de-duplicated (and
bounded, as every body is, to `MAX_BODY_BYTES` by `web.body_limit`)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from web.json_body import NotJson, json_of
from web.webhooks import RecentIds, hand_off, status

__all__ = [
    "MAX_BODY_BYTES",
    "SECRET_HEADER",
    "WEBHOOK_PATH",
    "UpdateSink",
    "telegram_webhook_router",
]


WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
MAX_BODY_BYTES = 1024 * 1024  # an update is a few kilobytes; anything near this is not Telegram

log = logging.getLogger(__name__)

# The Telegram channel's handling of an update; what it returns (a tap's answer) is the body of
# the 200, and Telegram carries it out as a Bot API call.
UpdateSink = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]


def telegram_webhook_router(
    process: UpdateSink,
    secret: str,
    *,
    ready: Callable[[], bool] = lambda: True,
) -> APIRouter:
    """The webhook route handing each new update's JSON to `process` (the Telegram channel).

    Statuses: 403 without the secret header or with a wrong one, 503 while `ready()` is
    false (the service is still connecting to Telegram after a start: updates queued at
    Telegram during a restart arrive at once), 400 for anything that is not an update's
    JSON, 500 when processing failed, 200 otherwise, including for an update already seen;
    a 200's body is the method `process` returned for Telegram to carry out, if any.
    Telegram delivers again whatever got no 2xx. A body over `MAX_BODY_BYTES` gets 413
    from the app's `web.body_limit` before this route runs.
    """
    if not secret:
        raise ValueError("a webhook without a secret would accept anyone's updates")
    expected = secret.encode()
    recent = RecentIds()
    router = APIRouter()

    @router.post(WEBHOOK_PATH, include_in_schema=False)
    async def telegram_webhook(request: Request) -> Response:
        """Receive one update from Telegram."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return status(403, "forbidden")
        if not ready():
            log.info("Telegram update refused with 503: still connecting to Telegram")
            return status(503, "starting up")
        body = await request.body()  # bounded already (`web.body_limit`)
        try:
            update = json_of(body)
        except NotJson:
            return status(400, "body is not JSON")
        update_id = update.get("update_id") if isinstance(update, dict) else None
        if type(update_id) is not int:
            return status(400, "not a Telegram update")
        return await hand_off(update, str(update_id), recent, process, "Telegram")

    return router
