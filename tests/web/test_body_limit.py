"""Every route's body is bounded while it is read, before any route authenticates or parses it:
a huge chunked body is refused with 413 after a few chunks, and the rest is never read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from analytics.method import load_method
from handlers.events import Inbound, Reply
from storage.db import Database
from tests.analytics.survey_rows import SIPAS_LAYOUT
from tests.conftest import TEST_SECRET
from tests.fakes.served import ServedApp
from web.app import create_app
from web.body_limit import BODY_LIMITS, MAX_BODY_BYTES, limit_for
from web.dashboard.routes import dashboard_router
from web.invitation_api import invitation_router
from web.survey.routes import survey_router
from web.telegram_webhook import MAX_BODY_BYTES as TELEGRAM_BYTES
from web.telegram_webhook import telegram_webhook_router
from web.zalo_webhooks import zalo_bot_webhook_router, zalo_oa_webhook_router

CHUNK = 64 * 1024
HUGE = 256 * 1024 * 1024  # as probed: 256 MiB, chunked
PROBLEM = "application/problem+json"


async def _nowhere(event: dict[str, Any]) -> None:
    raise AssertionError("a refused body reached a webhook's sink")


async def _no_engine(inbound: Inbound) -> list[Reply]:
    raise AssertionError("a refused body reached the survey engine")


def whole_app(database: Database) -> FastAPI:
    """Every router `sipas serve` can mount, as it mounts them."""
    return create_app(
        [
            invitation_router(
                database,
                secret=TEST_SECRET,
                bot_username="sipas_bot",
                public_url=None,
                default_ttl=timedelta(hours=72),
            ),
            dashboard_router(
                database,
                secret=TEST_SECRET,
                zone=ZoneInfo("Asia/Ho_Chi_Minh"),
                min_cell_size=10,
                layout=SIPAS_LAYOUT,
                method=load_method(),
            ),
            survey_router(
                _no_engine,
                database,
                secret=TEST_SECRET,
                data_controller="Sở Nội vụ",
                bot_username="sipas_bot",
                zalo_oa_id=None,
                resume_window=timedelta(hours=48),
            ),
            telegram_webhook_router(_nowhere, "telegram-secret"),
            zalo_oa_webhook_router(_nowhere, app_id="1", oa_secret_key="k"),
            zalo_bot_webhook_router(_nowhere, "zalo-bot-secret"),
        ]
    )


class Upload:
    """A chunked body of `HUGE` bytes that counts how much of it was asked for."""

    def __init__(self) -> None:
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < HUGE:
            self.sent += CHUNK
            yield b"[" * CHUNK

    def chunks(self) -> Iterator[bytes]:  # for the synchronous client against uvicorn
        while self.sent < HUGE:
            self.sent += CHUNK
            yield b"[" * CHUNK


@pytest.fixture
def database(tmp_path: Path) -> Database:
    """Never reached: a refused body goes no further than the limit."""
    return Database(f"sqlite+aiosqlite:///{tmp_path / 'never-created.db'}")


@pytest.fixture
async def client(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=whole_app(database))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


ROUTES = [
    "/api/v1/invitations",
    "/api/v1/nowhere",
    "/dashboard/login",
    "/dashboard/logout",
    "/s/survey",
    "/s/c_HN-00004-01_signature",
    "/webhooks/telegram",
    "/webhooks/zalo-oa",
    "/webhooks/zalo-bot",
    "/nowhere",
]


@pytest.mark.parametrize("path", ROUTES)
async def test_a_huge_chunked_body_is_refused_after_reading_no_more_than_the_limit(
    client: httpx.AsyncClient, path: str
) -> None:
    upload = Upload()

    response = await client.post(path, content=upload)

    assert response.status_code == 413
    limit = limit_for(BODY_LIMITS, path)
    assert upload.sent <= limit + 2 * CHUNK < HUGE  # the rest was never read
    assert response.headers["connection"] == "close"
    if path.startswith("/api/v1/"):
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"] == "/api/v1/problems/body-too-large"
    else:
        assert response.headers["content-type"].startswith("text/plain")


async def test_a_declared_length_over_the_limit_is_refused_before_reading_any_of_it(
    client: httpx.AsyncClient,
) -> None:
    upload = Upload()

    response = await client.post(
        "/api/v1/invitations", content=upload, headers={"Content-Length": str(HUGE)}
    )

    assert response.status_code == 413 and upload.sent == 0


def test_the_limits_are_the_webhooks_own_and_a_small_one_everywhere_else() -> None:
    assert limit_for(BODY_LIMITS, "/webhooks/telegram") == TELEGRAM_BYTES
    assert limit_for(BODY_LIMITS, "/dashboard/login") == MAX_BODY_BYTES
    assert limit_for(BODY_LIMITS, "/api/v1/invitations") == MAX_BODY_BYTES


async def test_a_body_within_the_limit_reaches_the_route_whole(
    client: httpx.AsyncClient,
) -> None:
    async def in_chunks() -> AsyncIterator[bytes]:
        for part in (b'{"service_point": ', b'"HN-00004-01"}'):
            yield part

    # No key: the route itself answers (401), having been handed the whole body.
    response = await client.post("/api/v1/invitations", content=in_chunks())

    assert response.status_code == 401
    assert response.json()["type"] == "/api/v1/problems/missing-api-key"


def test_a_real_server_stops_reading_a_huge_chunked_body(database: Database) -> None:
    served = ServedApp(whole_app(database)).start()
    try:
        upload = Upload()
        with httpx.Client(base_url=served.url) as http:
            response = http.post("/api/v1/invitations", content=upload.chunks())
    finally:
        served.stop()

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    # What the sockets' buffers took besides the limit; far from the 256 MiB sent at it.
    assert upload.sent < 32 * 1024 * 1024
