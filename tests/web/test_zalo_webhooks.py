"""The Zalo webhook routes: OA signature, age, size and shape checks; the bot's secret; each event handed on once."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.zalo_servers import FakeZaloBot, FakeZaloOA
from web.app import create_app
from web.body_limit import BODY_LIMITS
from web.zalo_webhooks import (
    BOT_SECRET_HEADER,
    BOT_WEBHOOK_PATH,
    OA_SIGNATURE_HEADER,
    OA_WEBHOOK_PATH,
    oa_signature,
    signed_timestamp,
    zalo_bot_webhook_router,
    zalo_domain_verification_router,
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
            zalo_oa_webhook_router(sink, app_id=zalo.app_id, oa_secret_key=zalo.oa_secret_key),
            zalo_bot_webhook_router(sink, BOT_SECRET),
        ],
        body_limits={**BODY_LIMITS, OA_WEBHOOK_PATH: LIMIT, BOT_WEBHOOK_PATH: LIMIT},
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
async def test_without_a_valid_signature_nothing_is_done_and_zalo_gets_200(
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

    # Never a 403: Zalo disables a webhook that keeps refusing what it posts.
    assert response.status_code == 200
    assert response.json()["detail"].startswith("ignored")
    assert sink.events == []


async def test_zalos_unsigned_test_of_a_saved_webhook_url_gets_200_and_changes_nothing(
    client: httpx.AsyncClient, zalo: FakeZaloOA, sink: Sink
) -> None:
    probe = {"app_id": zalo.app_id, "event_name": "user_send_text", "timestamp": "1"}

    response = await client.post(OA_WEBHOOK_PATH, json=probe)

    assert response.status_code == 200 and response.json() == {"detail": "ignored: not signed"}
    assert sink.events == []


@pytest.mark.parametrize("age_seconds", [16 * 60, 3600 * 24, -10 * 60])
async def test_a_late_or_future_signed_event_gets_200_and_is_dropped(
    client: httpx.AsyncClient, zalo: FakeZaloOA, sink: Sink, age_seconds: int
) -> None:
    stamp = int((time.time() - age_seconds) * 1000)

    response = await post_oa(client, zalo.user().event("1", timestamp_ms=stamp))

    assert response.status_code == 200
    assert response.json() == {"detail": "ignored: not recent"}
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


def test_the_mac_is_keyed_to_the_app_id_and_the_timestamp_read_from_the_raw_body(
    zalo: FakeZaloOA,
) -> None:
    stamp = "1700000000000"
    body = (
        b'{"message": {"text": "\\"timestamp\\": \\"1\\""}, "timestamp": ' + stamp.encode() + b"}"
    )
    mac = oa_signature(zalo.app_id, body, stamp, zalo.oa_secret_key)
    by_oa_id = oa_signature(zalo.oa_id, body, stamp, zalo.oa_secret_key)

    assert signed_timestamp(body, mac, zalo.app_id, zalo.oa_secret_key) == stamp
    assert signed_timestamp(body, by_oa_id, zalo.app_id, zalo.oa_secret_key) is None
    assert signed_timestamp(b"[" * 60_000, mac, zalo.app_id, zalo.oa_secret_key) is None


HOSTILE = [b"not json", b"[1, 2]", b"[" * 60_000, b'{"a":' * 20_000, b"\xff\xfe{"]


@pytest.mark.parametrize("body", HOSTILE, ids=["text", "list", "deep list", "deep object", "bytes"])
@pytest.mark.parametrize("signature", [None, "mac=00", "ZNS"])
async def test_an_unsigned_or_badly_signed_hostile_body_is_never_parsed(
    zalo: FakeZaloOA,
    sink: Sink,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    signature: str | None,
) -> None:
    headers = {OA_SIGNATURE_HEADER: signature} if signature is not None else {}
    # The production body limit (256 KB): the hostile bodies are well inside it.
    app = create_app([zalo_oa_webhook_router(sink, app_id=zalo.app_id, oa_secret_key="k")])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post(OA_WEBHOOK_PATH, content=body, headers=headers)

    assert response.status_code == 200 and response.json()["detail"].startswith("ignored")
    assert sink.events == []
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.exc_info]


async def test_a_correctly_signed_body_that_is_not_an_event_is_400(
    client: httpx.AsyncClient, zalo: FakeZaloOA, sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    stamp = str(int(time.time() * 1000))
    head = b'{"timestamp": "' + stamp.encode() + b'", '
    bodies = [
        head + b"oops",
        head + b'"deep": ' + b"[" * 3000,
        b'[{"timestamp": "' + stamp.encode() + b'"}]',
    ]

    statuses = [(await post_oa(client, zalo.sign(body, stamp))).status_code for body in bodies]

    assert statuses == [400, 400, 400]
    assert sink.events == []
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("signature", ["mac=00", None])
async def test_an_oversized_body_is_413_signed_or_not(
    client: httpx.AsyncClient, sink: Sink, signature: str | None
) -> None:
    headers = {OA_SIGNATURE_HEADER: signature} if signature is not None else {}

    response = await client.post(
        OA_WEBHOOK_PATH, content=b"{" + b" " * LIMIT + b"}", headers=headers
    )

    assert response.status_code == 413
    assert sink.events == []


async def test_the_domain_verification_page_is_served_at_the_web_root(tmp_path: Path) -> None:
    page = tmp_path / "zalo_verifierQ2cZ8_a-1.html"
    page.write_text('<meta property="zalo-platform-site-verification" content="Q2cZ8" />\n')
    transport = httpx.ASGITransport(app=create_app([zalo_domain_verification_router(page)]))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        served = await http.get("/zalo_verifierQ2cZ8_a-1.html")
        elsewhere = await http.get("/webhooks/zalo_verifierQ2cZ8_a-1.html")

    assert served.status_code == 200 and served.headers["content-type"].startswith("text/html")
    assert served.content == page.read_bytes()
    assert elsewhere.status_code == 404


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
        (await post_bot(client, b"[" * 3000)).status_code,
        (await post_bot(client, b"[" + b" " * LIMIT + b"]")).status_code,
    ]

    assert statuses == [200, 200, 400, 400, 400, 413]
    assert len(sink.events) == 1


async def test_bot_events_other_than_messages_are_answered_200_and_not_handed_on(
    client: httpx.AsyncClient, sink: Sink
) -> None:
    other = {"event_name": "user.joined", "chat": {"id": "c1", "chat_type": "PRIVATE"}}

    responses = [
        await post_bot(client, other),
        await post_bot(client, {"ok": True, "result": other}),
    ]
    unauthenticated = await post_bot(client, other, secret="wrong")

    assert [r.status_code for r in responses] == [200, 200]
    assert responses[0].json() == {"detail": "ignored: not a message"}
    assert unauthenticated.status_code == 403
    assert sink.events == []
