"""The `/webhooks/zalo-oa` and `/webhooks/zalo-bot` routes: Zalo's POSTed events, authenticated, bounded, de-duplicated.

Both routes answer as soon as the event is verified and queued: Zalo wants an
answer within about two seconds and retries otherwise, while one survey step
means a database transaction and one or more API calls back to Zalo. The
channel processes queued events in the background, in order per chat. What
that costs: an event accepted just before a crash is lost (the respondent types
again); the engine's processed-events table keeps redeliveries from counting
twice, and the in-memory set below only saves the work of a retry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from web.webhooks import RecentIds, bounded_body, hand_off, status

__all__ = [
    "BOT_SECRET_HEADER",
    "BOT_WEBHOOK_PATH",
    "MAX_BODY_BYTES",
    "OA_SIGNATURE_HEADER",
    "OA_WEBHOOK_PATH",
    "EventSink",
    "oa_signature",
    "zalo_bot_webhook_router",
    "zalo_oa_webhook_router",
]


OA_WEBHOOK_PATH = "/webhooks/zalo-oa"
BOT_WEBHOOK_PATH = "/webhooks/zalo-bot"
OA_SIGNATURE_HEADER = "X-ZEvent-Signature"
BOT_SECRET_HEADER = "X-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
MAX_BODY_BYTES = 256 * 1024  # an event is a few kilobytes
MAX_EVENT_AGE_SECONDS = 15 * 60  # Zalo's retries come within minutes
MAX_CLOCK_SKEW_SECONDS = 5 * 60

EventSink = Callable[[dict[str, Any]], Awaitable[None]]


def oa_signature(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """Zalo's event MAC: plain SHA-256 (not HMAC) of app id + raw body + timestamp + OA secret key."""
    return hashlib.sha256(
        app_id.encode() + body + timestamp.encode() + oa_secret_key.encode()
    ).hexdigest()


def zalo_oa_webhook_router(
    sink: EventSink,
    *,
    app_id: str,
    oa_secret_key: str,
    max_age_seconds: float = MAX_EVENT_AGE_SECONDS,
    max_body_bytes: int = MAX_BODY_BYTES,
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    """The OA webhook route handing each verified, new event to `sink` (the OA channel's queue).

    Statuses: 403 without `X-ZEvent-Signature`, with a wrong one, or with a
    timestamp older than `max_age_seconds` (or from the future); 413 for a body
    over `max_body_bytes`; 400 for a body that is not an event; 500 when `sink`
    failed (Zalo delivers it again); 200 otherwise, including for a duplicate.
    """
    if not app_id or not oa_secret_key:
        raise ValueError("the OA webhook needs SIPAS_ZALO_OA_APP_ID and SIPAS_ZALO_OA_SECRET_KEY")
    recent = RecentIds()
    router = APIRouter()

    @router.post(OA_WEBHOOK_PATH, include_in_schema=False)
    async def zalo_oa_webhook(request: Request) -> Response:
        """Receive one event from Zalo."""
        given = request.headers.get(OA_SIGNATURE_HEADER, "").strip()
        if not given:
            return status(403, "missing signature")
        body = await bounded_body(request, max_body_bytes)
        if body is None:
            return status(413, "request body too large")
        try:
            event = json.loads(body)
        except ValueError:
            return status(400, "body is not JSON")
        if not isinstance(event, dict):
            return status(400, "not a Zalo event")
        timestamp = event.get("timestamp")
        if not isinstance(timestamp, str | int) or not str(timestamp).isdigit():
            return status(400, "not a Zalo event")
        stamp = str(timestamp)
        mac = given.removeprefix("mac=").strip().lower()
        # The MAC is keyed by the secret alone; the id in front is the app id in Zalo's
        # documentation and the OA id in one other source, so either is accepted.
        recipient = event.get("recipient")
        oa_id = recipient.get("id") if isinstance(recipient, dict) else None
        candidates = {app_id, str(event.get("oa_id") or ""), str(oa_id or "")}
        if not any(
            hmac.compare_digest(mac, oa_signature(candidate, body, stamp, oa_secret_key))
            for candidate in candidates
            if candidate
        ):
            return status(403, "bad signature")
        age = clock() - int(stamp) / 1000
        if age > max_age_seconds or age < -MAX_CLOCK_SKEW_SECONDS:
            return status(403, "stale event")
        message = event.get("message")
        message_id = message.get("msg_id") if isinstance(message, dict) else None
        key = str(message_id) if isinstance(message_id, str | int) else None
        return await hand_off(event, key, recent, sink, "Zalo OA")

    return router


def zalo_bot_webhook_router(
    sink: EventSink, secret: str, *, max_body_bytes: int = MAX_BODY_BYTES
) -> APIRouter:
    """The bot webhook route handing each new update (bare or wrapped in `{"ok", "result"}`) to `sink`.

    Statuses: 403 without the secret header or with a wrong one, 413 for a body
    over `max_body_bytes`, 400 for anything that is not an update, 500 when `sink`
    failed, 200 otherwise, including for a duplicate.
    """
    if not secret:
        raise ValueError("a webhook without a secret would accept anyone's updates")
    expected = secret.encode()
    recent = RecentIds()
    router = APIRouter()

    @router.post(BOT_WEBHOOK_PATH, include_in_schema=False)
    async def zalo_bot_webhook(request: Request) -> Response:
        """Receive one update from the Zalo Bot Platform."""
        given = request.headers.get(BOT_SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return status(403, "forbidden")
        body = await bounded_body(request, max_body_bytes)
        if body is None:
            return status(413, "request body too large")
        try:
            data = json.loads(body)
        except ValueError:
            return status(400, "body is not JSON")
        update = data.get("result") if isinstance(data, dict) and "message" not in data else data
        message = update.get("message") if isinstance(update, dict) else None
        if not isinstance(update, dict) or not isinstance(message, dict):
            return status(400, "not a Zalo bot update")
        message_id = message.get("message_id")
        key = str(message_id) if isinstance(message_id, str | int) else None
        return await hand_off(update, key, recent, sink, "Zalo bot")

    return router
