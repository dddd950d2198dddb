"""The Zalo webhook routes: OA signature, age, size and shape checks; the bot's secret; each event handed on once."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.fakes.zalo_servers import FakeZaloBot, FakeZaloOA
from web.app import create_app
from web.zalo_webhooks import (
    BOT_SECRET_HEADER,
    BOT_WEBHOOK_PATH,
    OA_SIGNATURE_HEADER,
    OA_WEBHOOK_PATH,
    oa_signature,
    zalo_bot_webhook_router,
    zalo_oa_webhook_router,
)

BOT_SECRET = "bot-secret-for-webhook-tests"
LIMIT = 4096


class Sink:
    """Records the events handed on; can be told to fail."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.failures = 0

    async def __call__(self, event: dict[str, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("queue unavailable")
        self.events.append(event)


@pytest.fixture
def zalo() -> FakeZaloOA:
    return FakeZaloOA()  # not started: only its event signing is used


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
async def client(zalo: FakeZaloOA, sink: Sink) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        [
            zalo_oa_webhook_router(
                sink, app_id=zalo.app_id, oa_secret_key=zalo.oa_secret_key, max_body_bytes=LIMIT
            ),
            zalo_bot_webhook_router(sink, BOT_SECRET, max_body_bytes=LIMIT),
        ]
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def post_oa(client: httpx.AsyncClient, event: tuple[bytes, dict[str, str]]) -> httpx.Response:
    body, headers = event
    return await client.post(OA_WEBHOOK_PATH, content=body, headers=headers)


# --- OA ---------------------------------------------------------------------------------------------


async def test_a_signed_event_is_handed_on(
    client: httpx.AsyncClient, zalo: FakeZaloOA, sink: Sink
) -> None:
    lan = zalo.user()

    response = await post_oa(client, lan.event("AB3DEF7H", msg_id="m-1"))

    assert response.status_code == 200
    assert [e["message"] for e in sink.events] == [{"msg_id": "m-1", "text": "AB3DEF7H"}]


async def test_the_signature_is_plain_sha256_over_the_raw_body(zalo: FakeZaloOA) -> None:
    body, headers = zalo.user().event("xin chào")
    timestamp = json.loads(body)["timestamp"]

    expected = oa_signature(zalo.app_id, body, timestamp, zalo.oa_secret_key)

    assert headers[OA_SIGNATURE_HEADER] == f"mac={expected}"


@pytest.mark.parametrize(
    "tamper",
    ["missing", "empty", "wrong secret", "app secret", "body changed", "other app", "not hex"],
)
async def test_a_missing_or_wrong_signature_is_refused(
    client: httpx.AsyncClient, zalo: FakeZaloOA, sink: Sink, tamper: str
) -> None:
    body, headers = zalo.user().event("1")
    timestamp = json.loads(body)["timestamp"]
    if tamper == "missing":
        del headers[OA_SIGNATURE_HEADER]
    elif tamper == "empty":
        headers[OA_SIGNATURE_HEADER] = ""
    elif tamper == "wrong secret":
        mac = oa_signature(zalo.app_id, body, timestamp, "not-the-secret")
        headers[OA_SIGNATURE_HEADER] = f"mac={mac}"
    elif tamper == "app secret":  # the app's key refreshes tokens; it signs nothing
        mac = oa_signature(zalo.app_id, body, timestamp, zalo.app_secret_key)
        headers[OA_SIGNATURE_HEADER] = f"mac={mac}"
    elif tamper == "body changed":
        body = body.replace(b'"1"', b'"5"')
    elif tamper == "other app":
        mac = oa_signature("999", body, timestamp, zalo.oa_secret_key)
        headers[OA_SIGNATURE_HEADER] = f"mac={mac}"
    else:
        headers[OA_SIGNATURE_HEADER] = "mac=zzzz"

    response = await post_oa(client, (body, headers))

    assert response.status_code == 403
    assert sink.events == []


@pytest.mark.parametrize("age_seconds", [16 * 60, 3600 * 24, -10 * 60])
async def test_stale_or_future_timestamps_are_refused(
    client: httpx.AsyncClient, zalo: FakeZaloOA, sink: Sink, age_seconds: int
) -> None:
    stamp = int((time.time() - age_seconds) * 1000)

    response = await post_oa(client, zalo.user().event("1", timestamp_ms=stamp))

    assert response.status_code == 403
    assert response.json() == {"detail": "stale event"}
    assert sink.events == []


async def test_a_recent_retry_is_accepted(
    client: httpx.AsyncClient, zalo: FakeZaloOA, sink: Sink
) -> None:
    stamp = int((time.time() - 5 * 60) * 1000)

    response = await post_oa(client, zalo.user().event("1", timestamp_ms=stamp))

    assert response.status_code == 200 and len(sink.events) == 1


async def test_a_duplicate_message_id_is_answered_but_handed_on_once(
    client: httpx.AsyncClient, zalo: FakeZaloOA, sink: Sink
) -> None:
    event = zalo.user().event("4", msg_id="m-dup")

    first, second = await post_oa(client, event), await post_oa(client, event)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"detail": "duplicate"}
    assert len(sink.events) == 1


async def test_a_failed_hand_on_is_500_and_the_redelivery_goes_through(
    client: httpx.AsyncClient, zalo: FakeZaloOA, sink: Sink
) -> None:
    event = zalo.user().event("4", msg_id="m-retry")
    sink.failures = 1

    failed, retried = await post_oa(client, event), await post_oa(client, event)

    assert (failed.status_code, retried.status_code) == (500, 200)
    assert len(sink.events) == 1


async def test_the_oa_id_variant_of_the_signature_is_accepted(
    client: httpx.AsyncClient, zalo: FakeZaloOA, sink: Sink
) -> None:
    event = {
        "oa_id": zalo.oa_id,
        "event_name": "user_send_text",
        "sender": {"id": "1"},
        "message": {"msg_id": "m-oa", "text": "hi"},
        "timestamp": str(int(time.time() * 1000)),
    }
    body = json.dumps(event).encode()
    mac = oa_signature(zalo.oa_id, body, event["timestamp"], zalo.oa_secret_key)  # type: ignore[arg-type]

    response = await post_oa(client, (body, {OA_SIGNATURE_HEADER: f"mac={mac}"}))

    assert response.status_code == 200 and len(sink.events) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[1, 2]", 400),
        (b'{"event_name": "user_send_text"}', 400),  # no timestamp
        (b'{"timestamp": "soon"}', 400),
        (b"{" + b" " * LIMIT + b"}", 413),
    ],
)
async def test_malformed_or_oversized_bodies_are_refused(
    client: httpx.AsyncClient, sink: Sink, body: bytes, status: int
) -> None:
    response = await client.post(
        OA_WEBHOOK_PATH, content=body, headers={OA_SIGNATURE_HEADER: "mac=00"}
    )

    assert response.status_code == status
    assert sink.events == []


def test_the_route_refuses_to_exist_without_credentials(sink: Sink) -> None:
    with pytest.raises(ValueError, match="SIPAS_ZALO_OA_SECRET_KEY"):
        zalo_oa_webhook_router(sink, app_id="1", oa_secret_key="")
    with pytest.raises(ValueError, match="secret"):
        zalo_bot_webhook_router(sink, "")


# --- Bot --------------------------------------------------------------------------------------------


async def post_bot(
    client: httpx.AsyncClient, body: Any, secret: str | None = BOT_SECRET
) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers[BOT_SECRET_HEADER] = secret
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(BOT_WEBHOOK_PATH, content=content, headers=headers)


async def test_bot_updates_bare_or_wrapped_are_handed_on_unwrapped(
    client: httpx.AsyncClient, sink: Sink
) -> None:
    minh = FakeZaloBot().user()
    bare, wrapped = minh.send("1", queue=False), minh.send("2", queue=False)

    responses = [
        await post_bot(client, bare),
        await post_bot(client, {"ok": True, "result": wrapped}),
    ]

    assert [r.status_code for r in responses] == [200, 200]
    assert sink.events == [bare, wrapped]


@pytest.mark.parametrize("secret", [None, "", "wrong", BOT_SECRET + "x", BOT_SECRET.upper()])
async def test_bot_without_the_right_secret_403(
    client: httpx.AsyncClient, sink: Sink, secret: str | None
) -> None:
    response = await post_bot(client, FakeZaloBot().user().send("1", queue=False), secret)

    assert response.status_code == 403
    assert sink.events == []


async def test_bot_duplicates_and_bad_bodies(client: httpx.AsyncClient, sink: Sink) -> None:
    update = FakeZaloBot().user().send("1", queue=False)

    statuses = [
        (await post_bot(client, update)).status_code,
        (await post_bot(client, update)).status_code,
        (await post_bot(client, b"nope")).status_code,
        (await post_bot(client, {"ok": True, "result": None})).status_code,
        (await post_bot(client, b"[" + b" " * LIMIT + b"]")).status_code,
    ]

    assert statuses == [200, 200, 400, 400, 413]
    assert len(sink.events) == 1
