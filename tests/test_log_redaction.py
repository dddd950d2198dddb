"""No secret reaches a log line: what `sipas serve` logs after codes, payloads, keys and secrets were used."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
import pytest

from bot.log_redaction import REDACTED, SecretRedaction, redact
from storage.api_keys import create_api_key
from storage.db import Database
from storage.staff import add_staff
from tests.channels.test_telegram_e2e import (
    PUBLIC_URL,
    WEBHOOK_SECRET,
    Deliver,
    say,
    serving,
    settings_for,
    sqlite_url,
)
from tests.conftest import TEST_SECRET
from tests.fakes.telegram_server import FakeTelegram
from tests.survey_driver import POINT
from web.telegram_webhook import SECRET_HEADER, WEBHOOK_PATH

__all__ = ["sqlite_url"]  # a fixture, used by name


async def test_serve_logs_no_password_code_payload_api_key_webhook_secret_or_bot_token(
    sqlite_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    database = Database(sqlite_url)
    try:
        async with database.transaction() as tx:
            staff = await add_staff(
                tx, TEST_SECRET, name="Lan", role="admin", unit_codes=[], now=_now()
            )
            api_key = (await create_api_key(tx, name="mot-cua", unit_codes=[], now=_now())).key
    finally:
        await database.dispose()

    with FakeTelegram() as telegram:
        settings = settings_for(
            telegram,
            sqlite_url,
            public_url=PUBLIC_URL,
            telegram_webhook_secret=WEBHOOK_SECRET,
        )
        person = telegram.user()
        # As in a `sipas serve` process of its own: the fake Bot API's uvicorn configured its
        # loggers for itself (not propagating, access lines as warnings only).
        for name in ("uvicorn", "uvicorn.access"):
            monkeypatch.setattr(logging.getLogger(name), "propagate", True)
        caplog.set_level(logging.DEBUG, logger="uvicorn.access")
        async with serving(settings) as base, httpx.AsyncClient(base_url=base) as client:
            page = await client.get("/dashboard/password", params={"code": staff.password_code})
            assert page.status_code == 200 and "Lan" in page.text  # the code was taken
            minted = await client.post(
                "/api/v1/invitations",
                json={"service_point": POINT},
                headers={"Authorization": f"Bearer {api_key}"},
            )
            assert minted.status_code == 201
            payload, short_code = minted.json()["payload"], minted.json()["short_code"]
            # A survey link as a browser would open it, a key pasted into a query string, a
            # secret put into a webhook path by mistake: all of them reach the access log.
            await client.get(f"/s/{payload}")
            await client.get(f"/s/{short_code}")
            await client.get("/api/v1/invitations", params={"api_key": api_key})
            await client.post(f"{WEBHOOK_PATH}/{WEBHOOK_SECRET}", json={})
            deliver = Deliver(base + WEBHOOK_PATH, telegram)
            await telegram.wait_for(lambda: telegram.webhook, what="setWebhook")
            await say(telegram, person, f"/start {payload}", deliver)
            forged = await client.post(
                WEBHOOK_PATH, json=person.send("/help"), headers={SECRET_HEADER: "wrong"}
            )
            assert forged.status_code == 403

    logged = caplog.text
    assert "/dashboard/password?code=" + REDACTED in logged  # the access log was captured
    assert "/s/" + REDACTED in logged
    for secret in (
        staff.password_code,
        payload,
        short_code,
        api_key,
        WEBHOOK_SECRET,
        telegram.token,
        telegram.token.split(":")[1],
    ):
        assert secret not in logged


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            'GET /dashboard/password?code=7-1790000000-abcdefghijklmnopqrstuvwx HTTP/1.1" 200',
            f'GET /dashboard/password?code={REDACTED} HTTP/1.1" 200',
        ),
        (
            "GET /dashboard/?period=2026-11&level=commune&next=/dashboard/ HTTP/1.1",
            f"GET /dashboard/?period={REDACTED}&level={REDACTED}&next={REDACTED} HTTP/1.1",
        ),
        ("GET /s/AB3DEF7H HTTP/1.1", f"GET /s/{REDACTED} HTTP/1.1"),
        (
            "POST /s/kiosk/704WmoD0gyuv2S50OZmJoYwsFMr3l64DCNmCpEpisRQ HTTP/1.1",
            f"POST /s/kiosk/{REDACTED} HTTP/1.1",
        ),
        (
            "POST /webhooks/zalo-bot/s3cret-value HTTP/1.1",
            f"POST /webhooks/zalo-bot/{REDACTED} HTTP/1.1",
        ),
        ("POST /webhooks/telegram HTTP/1.1", "POST /webhooks/telegram HTTP/1.1"),
        (
            "POST https://api.telegram.org/bot123456:AAbb-cc_dd/getMe",
            f"POST https://api.telegram.org/bot{REDACTED}/getMe",
        ),
        ("started from i_abcdefghijABCDEFGHIJ_- today", f"started from {REDACTED} today"),
        ("poster c_HN-00004-01_abcDEF0123456789 printed", f"poster {REDACTED} printed"),
        ("key sipas_AbCdEfGhIjKlMnOpQrStUv used", f"key {REDACTED} used"),
        ("expired 3 abandoned survey session(s)", "expired 3 abandoned survey session(s)"),
    ],
)
def test_redact_replaces_query_values_payload_segments_and_token_shapes(
    line: str, expected: str
) -> None:
    assert redact(line) == expected


def test_the_filter_keeps_the_shape_of_a_records_arguments() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/dashboard/password?code=1-2-abc", "1.1", 200),
        None,
    )
    assert SecretRedaction().filter(record)
    assert record.getMessage() == (
        f'127.0.0.1:5000 - "GET /dashboard/password?code={REDACTED} HTTP/1.1" 200'
    )
    assert isinstance(record.args, tuple) and record.args[4] == 200


def _now() -> datetime:
    return datetime.now(UTC)
