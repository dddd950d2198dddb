"""What every platform webhook route shares: a recent-ids guard, the JSON of a checked body, the
hand-off. (Bodies are bounded for every route alike: `web.body_limit`.)"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Response

log = logging.getLogger(__name__)

RECENT_IDS = 10_000

# A channel's handling of one event; what it returns, if anything, is the HTTP answer's JSON
# (a Telegram webhook answer may carry one Bot API method, which Telegram carries out).
Sink = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]


class RecentIds:
    """Event ids seen lately, oldest forgotten first.

    A platform redelivers an event it got no 2xx for; this answers such a retry at
    once. The survey engine's processed-events table is the durable guarantee (across
    processes and restarts); this set only saves the work.
    """

    def __init__(self, capacity: int = RECENT_IDS) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, event_id: str) -> bool:
        """Remember `event_id`; False when it was already there."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return True

    def forget(self, event_id: str) -> None:
        """Let a failed event be processed when the platform delivers it again."""
        self._ids.pop(event_id, None)


def status(code: int, detail: str) -> Response:
    """A short JSON answer; platforms read only the status code."""
    return Response(json.dumps({"detail": detail}), status_code=code, media_type="application/json")


async def hand_off(
    event: dict[str, Any], event_id: str | None, recent: RecentIds, sink: Sink, platform: str
) -> Response:
    """Give a verified event to its channel once: 200 for a retry already seen, 500 (so the
    platform delivers it again) when the channel failed, else 200 with what the channel
    returned as the body, if anything."""
    if event_id is not None and not recent.add(event_id):
        return status(200, "duplicate")
    try:
        reply = await sink(event)
    except Exception:
        if event_id is not None:
            recent.forget(event_id)
        log.exception("%s webhook event failed", platform)
        return status(500, "processing failed")
    if reply is not None:
        return Response(json.dumps(reply), media_type="application/json")
    return status(200, "ok")
