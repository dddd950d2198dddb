"""The Telegram webhook route: secret, size and shape checks, and each update processed once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Request, Response

from web.app import create_app
from web.body_limit import BODY_LIMITS
from web.telegram_webhook import SECRET_HEADER, WEBHOOK_PATH, telegram_webhook_router

SECRET = "s3cret-token_for-webhook"
LIMIT = 4096


class Sink:
    """Records the updates handed on; can be told to fail."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.failures = 0

    async def __call__(self, update: dict[str, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database unavailable")
        self.updates.append(update)


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
async def client(sink: Sink) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        [telegram_webhook_router(sink, SECRET)], body_limits={**BODY_LIMITS, WEBHOOK_PATH: LIMIT}
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def update(update_id: int = 1) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 1,
            "chat": {"id": 42, "type": "private"},
            "text": "/start",
        },
    }


async def post(client: httpx.AsyncClient, body: Any, secret: str | None = SECRET) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(WEBHOOK_PATH, content=content, headers=headers)


async def test_an_update_with_the_secret_is_handed_on(
    client: httpx.AsyncClient, sink: Sink
) -> None:
    response = await post(client, update(7))

    assert response.status_code == 200
    assert sink.updates == [update(7)]


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET.upper()])
async def test_without_the_right_secret_403_and_nothing_processed(
    client: httpx.AsyncClient, sink: Sink, secret: str | None
) -> None:
    response = await post(client, update(), secret=secret)

    assert response.status_code == 403
    assert sink.updates == []


async def test_an_oversized_body_is_413(client: httpx.AsyncClient, sink: Sink) -> None:
    big = update()
    big["message"]["text"] = "x" * LIMIT

    declared = await post(client, big)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(LIMIT // 512 + 2):
            yield b" " * 512  # no Content-Length: the limit holds while streaming too

    streamed = await client.post(WEBHOOK_PATH, content=chunks(), headers={SECRET_HEADER: SECRET})

    assert (declared.status_code, streamed.status_code) == (413, 413)
    assert sink.updates == []


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"[1, 2]", b'"text"', b"{}", b'{"update_id": "7"}', b'{"update_id": true}'],
)
async def test_what_is_not_an_update_is_400(
    client: httpx.AsyncClient, sink: Sink, body: bytes
) -> None:
    response = await post(client, body)

    assert response.status_code == 400
    assert sink.updates == []


async def test_a_deeply_nested_body_is_400_without_a_traceback(
    sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    # The production body limit (1 MiB): 60,000 brackets are well inside it.
    app = create_app([telegram_webhook_router(sink, SECRET)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        responses = [
            await http.post(WEBHOOK_PATH, content=body, headers={SECRET_HEADER: SECRET})
            for body in (b"[" * 60_000, b'{"update_id": 1, "a": ' + b"[" * 60_000)
        ]

    assert [response.status_code for response in responses] == [400, 400]
    assert sink.updates == []
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.exc_info]


async def test_a_redelivered_update_is_processed_once(
    client: httpx.AsyncClient, sink: Sink
) -> None:
    statuses = [(await post(client, update(9))).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert sink.updates == [update(9)]


async def test_a_failed_update_is_500_and_processed_when_delivered_again(
    client: httpx.AsyncClient, sink: Sink
) -> None:
    sink.failures = 1

    first = await post(client, update(11))
    second = await post(client, update(11))

    assert (first.status_code, second.status_code) == (500, 200)
    assert sink.updates == [update(11)]


async def test_while_still_connecting_to_telegram_503_and_the_update_is_processed_when_delivered_again(
    sink: Sink,
) -> None:
    connected = False
    app = create_app([telegram_webhook_router(sink, SECRET, ready=lambda: connected)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        early = await post(client, update(13))
        connected = True
        again = await post(client, update(13))

    assert (early.status_code, again.status_code) == (503, 200)
    assert sink.updates == [update(13)]


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_a_webhook_without_a_secret_is_refused(sink: Sink) -> None:
    with pytest.raises(ValueError, match="secret"):
        telegram_webhook_router(sink, "")


async def test_the_webhook_answers_only_posts(client: httpx.AsyncClient, sink: Sink) -> None:
    # POSTs are served straight from the endpoint (`web.app.DirectWebhooks`); anything else
    # still goes through the app's routing.
    response = await client.get(WEBHOOK_PATH, headers={SECRET_HEADER: SECRET})

    assert response.status_code == 405
    assert sink.updates == []


def test_a_webhook_endpoint_that_takes_more_than_the_request_is_refused() -> None:
    router = APIRouter()

    @router.post(WEBHOOK_PATH)
    async def wants_more(request: Request, update_id: int) -> Response:
        return Response()

    with pytest.raises(ValueError, match="request only"):
        create_app([router])
