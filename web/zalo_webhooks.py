"""Zalo's routes: the OA's and the bot's webhooks (authenticated, bounded, de-duplicated), the OA app's domain check.

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
import itertools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response

from web.json_body import NotJson, json_of
from web.webhooks import RecentIds, hand_off, status

__all__ = [
    "BOT_SECRET_HEADER",
    "BOT_WEBHOOK_PATH",
    "MAX_BODY_BYTES",
    "OA_SIGNATURE_HEADER",
    "OA_WEBHOOK_PATH",
    "EventSink",
    "oa_signature",
    "signed_timestamp",
    "zalo_bot_webhook_router",
    "zalo_domain_verification_router",
    "zalo_oa_webhook_router",
]


OA_WEBHOOK_PATH = "/webhooks/zalo-oa"
BOT_WEBHOOK_PATH = "/webhooks/zalo-bot"
OA_SIGNATURE_HEADER = "X-ZEvent-Signature"
BOT_SECRET_HEADER = "X-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
MAX_BODY_BYTES = 256 * 1024  # an event is a few kilobytes
MAX_EVENT_AGE_SECONDS = 15 * 60  # Zalo retries for hours; what is older is answered, not done
MAX_CLOCK_SKEW_SECONDS = 5 * 60

# Where the signed timestamp sits in a raw event body, as a string or a number.
TIMESTAMP = re.compile(rb'"timestamp"\s*:\s*"?(\d{1,20})')
MAX_TIMESTAMP_CANDIDATES = 4

log = logging.getLogger(__name__)

EventSink = Callable[[dict[str, Any]], Awaitable[None]]


def oa_signature(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """Zalo's event MAC: plain SHA-256 (not HMAC) of app id + raw body + timestamp + OA secret key."""
    return hashlib.sha256(
        app_id.encode() + body + timestamp.encode() + oa_secret_key.encode()
    ).hexdigest()


def signed_timestamp(body: bytes, mac: str, app_id: str, oa_secret_key: str) -> str | None:
    """The timestamp under which `body` carries the MAC `mac`, or None when it carries none.

    The timestamp is part of what is signed, so it is read from the raw bytes, before
    anything parses the body: a hostile body costs a regular expression and a few
    hashes, never a parser. A quote inside a JSON string is escaped, so a user's text
    cannot pose as a `"timestamp"` key; a nested one is only one more candidate.
    """
    for match in itertools.islice(TIMESTAMP.finditer(body), MAX_TIMESTAMP_CANDIDATES):
        stamp = match.group(1).decode()
        if hmac.compare_digest(mac, oa_signature(app_id, body, stamp, oa_secret_key)):
            return stamp
    return None


def zalo_oa_webhook_router(
    sink: EventSink,
    *,
    app_id: str,
    oa_secret_key: str,
    max_age_seconds: float = MAX_EVENT_AGE_SECONDS,
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    """The OA webhook route handing each verified, new, recent event to `sink` (the OA channel's queue).

    Zalo disables an app's webhook after repeated non-200 answers, and posts an unsigned
    test body when the webhook URL is saved; so whatever Zalo itself may send gets 200.
    Statuses: 200 and nothing done for a body without `X-ZEvent-Signature` (the test),
    with a signature that does not verify, or signed but older than `max_age_seconds`
    (a retry of long ago; a recent one is stopped by its `msg_id`); 400 for a correctly
    signed body that is not a JSON object; 500 when `sink` failed (Zalo delivers it
    again); 200 otherwise, including for a duplicate. A body over `MAX_BODY_BYTES`, signed
    or not, gets 413 from the app's `web.body_limit` before this route runs.
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
            log.info("Zalo OA: an unsigned POST (Zalo's test of a saved webhook URL) ignored")
            return status(200, "ignored: not signed")
        body = await request.body()  # bounded already (`web.body_limit`)
        mac = given.removeprefix("mac=").strip().lower()
        stamp = signed_timestamp(body, mac, app_id, oa_secret_key)
        if stamp is None:
            log.warning(
                "Zalo OA: an event whose signature does not verify was ignored; if every "
                "event is, check SIPAS_ZALO_OA_SECRET_KEY (the OA Secret Key of the Webhook page)"
            )
            return status(200, "ignored: signature does not verify")
        try:
            event = json_of(body)
        except NotJson:
            return status(400, "signed body is not JSON")
        if not isinstance(event, dict):
            return status(400, "signed body is not a Zalo event")
        age = clock() - int(stamp) / 1000
        if age > max_age_seconds or age < -MAX_CLOCK_SKEW_SECONDS:
            log.info("Zalo OA: a signed event %+d minutes off the clock was dropped", age // 60)
            return status(200, "ignored: not recent")
        message = event.get("message")
        message_id = message.get("msg_id") if isinstance(message, dict) else None
        key = str(message_id) if isinstance(message_id, str | int) else None
        return await hand_off(event, key, recent, sink, "Zalo OA")

    return router


def zalo_domain_verification_router(page: Path) -> APIRouter:
    """`GET /<the file's name>`: the page Zalo fetches to verify the app's domain.

    Zalo lets an app save a webhook URL only on a verified domain, and verifies it by
    fetching the HTML file it gave the developer from the web root. The page is read
    once, here: a missing file stops start-up rather than failing Zalo's check later.
    """
    content = page.read_bytes()
    router = APIRouter()

    @router.api_route("/" + page.name, methods=["GET", "HEAD"], include_in_schema=False)
    async def zalo_domain_verification() -> Response:
        """The verification page, as Zalo gave it."""
        return Response(content, media_type="text/html; charset=utf-8")

    return router


def zalo_bot_webhook_router(sink: EventSink, secret: str) -> APIRouter:
    """The bot webhook route handing each new update (bare or wrapped in `{"ok", "result"}`) to `sink`.

    Statuses: 403 without the secret header or with a wrong one, 413 for a body
    over `MAX_BODY_BYTES` (the app's `web.body_limit`), 400 for a body that is not a JSON object, 500 when `sink`
    failed, 200 otherwise, including for a duplicate and for an update without a
    `message` (another kind of event), which is not handed on.
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
        body = await request.body()  # bounded already (`web.body_limit`)
        try:
            data = json_of(body)
        except NotJson:
            return status(400, "body is not JSON")
        wrapped = isinstance(data, dict) and "result" in data and "message" not in data
        update = data["result"] if wrapped else data
        if not isinstance(update, dict):
            return status(400, "not a Zalo bot update")
        message = update.get("message")
        if not isinstance(message, dict):
            # Another kind of event, authenticated: answered, so the platform does not retry it.
            return status(200, "ignored: not a message")
        message_id = message.get("message_id")
        key = str(message_id) if isinstance(message_id, str | int) else None
        return await hand_off(update, key, recent, sink, "Zalo bot")

    return router
