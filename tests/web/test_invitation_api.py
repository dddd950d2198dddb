"""The invitation API over HTTP: a one-stop system's developer mints, shows, and follows invitations."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select, update

from handlers.events import InboundKind
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.api_keys import create_api_key, revoke_api_key
from storage.db import Database
from storage.models import Invitation, ServicePoint
from tests import hanoi
from tests.conftest import TEST_SECRET
from tests.survey_driver import OTHER_POINT, POINT, Clock, Respondent, add_counters, engine_config
from web.app import create_app
from web.invitation_api import invitation_router

BOT = "sipas_test_bot"
DOSSIER = "000.00.01.H26-261120-0001"
FAR_POINT = "HN-00008-01"  # in another ward: outside a Ba Đình key's scope
CLOSED_POINT = "HN-00004-09"
PROBLEM = "application/problem+json"


@dataclass
class Api:
    """The app under test, its HTTP client, its clocks and ready-made keys."""

    client: httpx.AsyncClient
    database: Database
    clock: Clock
    ticks: list[float]
    ward_key: str  # scoped to Phường Ba Đình
    city_key: str  # scoped to Hà Nội: everything below it

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.ward_key}"}

    async def mint(self, key: str | None = None, **body: Any) -> httpx.Response:
        return await self.client.post(
            "/api/v1/invitations", json={"service_point": POINT, **body}, headers=self.auth(key)
        )


async def add_more_units(database: Database) -> None:
    async with database.transaction() as tx:
        await hanoi.add_ward(tx, "00008", counters=[FAR_POINT])
        tx.add(ServicePoint(code=CLOSED_POINT, name="Quầy 9", unit_code="00004", active=False))


async def make_api(
    database: Database, *, rate_limit: int = 120, public_url: str | None = None
) -> Api:
    await add_counters(database)
    await add_more_units(database)
    clock = Clock()
    async with database.transaction() as tx:
        ward = await create_api_key(tx, name="mot-cua-ba-dinh", unit_codes=["00004"], now=clock.now)
        city = await create_api_key(tx, name="mot-cua-ha-noi", unit_codes=["01"], now=clock.now)
    ticks = [1000.0]
    router = invitation_router(
        database,
        secret=TEST_SECRET,
        bot_username=BOT,
        public_url=public_url,
        default_ttl=timedelta(hours=72),
        rate_limit_per_minute=rate_limit,
        clock=lambda: clock.now,
        monotonic=lambda: ticks[0],
    )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app([router])), base_url="http://testserver"
    )
    return Api(client, database, clock, ticks, ward.key, city.key)


@pytest.fixture
async def api(database: Database) -> AsyncIterator[Api]:
    made = await make_api(database)
    async with made.client:
        yield made


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/api/v1/problems/{slug}"
    assert body["status"] == status and body["title"] and body["instance"]
    assert len(body["detail"]) > 40  # says what happened and what to do
    return body


def decoded(png: bytes) -> list[str]:
    return [barcode.text for barcode in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


# --- the judged scenario ------------------------------------------------------------------


async def test_a_developer_reads_the_spec_mints_shows_and_follows_an_invitation_to_completion(
    database: Database,
) -> None:
    await add_counters(database)
    await add_more_units(database)
    clock = Clock()
    router = invitation_router(
        database,
        secret=TEST_SECRET,
        bot_username=BOT,
        public_url=None,
        default_ttl=timedelta(hours=72),
        clock=lambda: clock.now,
    )
    transport = httpx.ASGITransport(app=create_app([router]))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        # 1. The OpenAPI document describes the API, its key and its errors.
        spec = (await client.get("/openapi.json")).json()
        assert {
            "/api/v1/invitations",
            "/api/v1/invitations/{invitation_id}",
            "/api/v1/invitations/{invitation_id}/qr.png",
            "/api/v1/invitations/{invitation_id}/qr.svg",
        } <= set(spec["paths"])
        create = spec["paths"]["/api/v1/invitations"]["post"]
        assert {"200", "201", "401", "403", "404", "409", "422", "429"} <= set(create["responses"])
        assert PROBLEM in create["responses"]["422"]["content"]
        assert spec["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"

        # 2. The operator creates a key for the ward (shown once).
        async with database.transaction() as tx:
            key = (
                await create_api_key(tx, name="mot-cua", unit_codes=["00004"], now=clock.now)
            ).key
        auth = {"Authorization": f"Bearer {key}"}

        # 3. Mint an invitation for a dossier; asking again returns the same one.
        body = {"service_point": POINT, "dossier_ref": DOSSIER}
        minted = await client.post("/api/v1/invitations", json=body, headers=auth)
        assert minted.status_code == 201, minted.text
        invitation = minted.json()
        assert invitation["status"] == "open" and invitation["has_dossier"] is True
        assert invitation["payload"].startswith("i_") and len(invitation["payload"]) == 24
        assert invitation["telegram_link"] == f"https://t.me/{BOT}?start={invitation['payload']}"
        assert invitation["landing_url"] is None  # no public URL: the QR code opens Telegram
        assert len(invitation["short_code"]) == 8
        assert minted.headers["location"] == f"/api/v1/invitations/{invitation['id']}"
        again = await client.post("/api/v1/invitations", json=body, headers=auth)
        assert again.status_code == 200 and again.json() == invitation

        # 4. Open its QR code: it carries exactly the link.
        png = await client.get(invitation["qr_png_url"], headers=auth)
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.headers["cache-control"] == "no-store"
        assert decoded(png.content) == [invitation["telegram_link"]]
        svg = await client.get(invitation["qr_svg_url"], headers=auth)
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"

        # 5. A citizen scans it and answers through the engine.
        engine = SurveyEngine(database, load_bundled(), engine_config())
        citizen = Respondent(engine, "424242", clock)
        await citizen.start(invitation["payload"])
        status = (await client.get(f"/api/v1/invitations/{invitation['id']}", headers=auth)).json()
        assert status["status"] == "claimed"
        final = await citizen.complete(invitation["payload"])
        assert "Cảm ơn" in final[0].text

        # 6. The status becomes completed; the dossier cannot be invited again.
        status = (await client.get(f"/api/v1/invitations/{invitation['id']}", headers=auth)).json()
        assert status["status"] == "completed" and status["completed_at"] is not None
        answered = await client.post("/api/v1/invitations", json=body, headers=auth)
        assert (
            assert_problem(answered, 409, "dossier-answered")["invitation_id"] == invitation["id"]
        )
        closed = await client.get(invitation["qr_png_url"], headers=auth)
        assert_problem(closed, 410, "invitation-closed")

        # 7. Every wrong call fails cleanly, as problem+json.
        no_key = await client.post("/api/v1/invitations", json=body)
        assert_problem(no_key, 401, "missing-api-key")
        assert no_key.headers["www-authenticate"].startswith("Bearer")
        bad_key = await client.post(
            "/api/v1/invitations", json=body, headers={"Authorization": "Bearer sipas_nope"}
        )
        assert_problem(bad_key, 401, "invalid-api-key")
        far = await client.post(
            "/api/v1/invitations", json={"service_point": FAR_POINT}, headers=auth
        )
        assert_problem(far, 403, "out-of-scope")
        unknown = await client.post(
            "/api/v1/invitations", json={"service_point": "HN-99999-01"}, headers=auth
        )
        assert_problem(unknown, 404, "unknown-service-point")
        invalid = await client.post("/api/v1/invitations", json={"dossier": DOSSIER}, headers=auth)
        errors = assert_problem(invalid, 422, "invalid-request")["errors"]
        assert {error["location"] for error in errors} == {"body.service_point", "body.dossier"}
        missing = await client.get("/api/v1/invitations/0123456789abcdef", headers=auth)
        assert_problem(missing, 404, "unknown-invitation")
        # The problem type URIs resolve to a description.
        described = (await client.get("/api/v1/problems/dossier-answered")).json()
        assert described["status"] == 409 and "one response" in described["advice"]


# --- authentication, scope, rate limit ---------------------------------------------------------


async def test_a_revoked_key_is_refused(api: Api) -> None:
    async with api.database.transaction() as tx:
        await revoke_api_key(tx, "mot-cua-ba-dinh", api.clock.now)
    assert_problem(await api.mint(), 401, "invalid-api-key")


async def test_a_malformed_authorization_header_is_a_missing_key(api: Api) -> None:
    for authorization in ("", "Bearer", "Basic dXNlcjpwYXNz", "Token sipas_x", "Bearer  "):
        response = await api.client.post(
            "/api/v1/invitations",
            json={"service_point": POINT},
            headers={"Authorization": authorization},
        )
        assert_problem(response, 401, "missing-api-key")


async def test_a_city_key_reaches_every_ward_below_a_ward_key_only_its_own(api: Api) -> None:
    assert (await api.mint(api.city_key, service_point=FAR_POINT)).status_code == 201
    far = (await api.mint(api.city_key, service_point=FAR_POINT)).json()
    body = assert_problem(
        await api.client.get(f"/api/v1/invitations/{far['id']}", headers=api.auth()),
        403,
        "out-of-scope",
    )
    assert "00008" in body["detail"] and "mot-cua-ba-dinh" in body["detail"]
    qr = await api.client.get(f"/api/v1/invitations/{far['id']}/qr.png", headers=api.auth())
    assert_problem(qr, 403, "out-of-scope")


async def test_the_rate_limit_answers_429_with_retry_after(database: Database) -> None:
    api = await make_api(database, rate_limit=2)
    async with api.client:
        assert (await api.mint()).status_code == 201
        assert (await api.mint()).status_code == 201
        limited = await api.mint()
        body = assert_problem(limited, 429, "rate-limited")
        assert limited.headers["retry-after"] == "30" and body["retry_after"] == 30
        assert (await api.mint(api.city_key)).status_code == 201  # other keys are not held up
        api.ticks[0] += 30
        assert (await api.mint()).status_code == 201


# --- bodies and service points ---------------------------------------------------------------------


INVALID_BODIES: list[tuple[dict[str, Any], str]] = [
    ({}, "body.service_point"),
    ({"service_point": "hn-00004-01"}, "body.service_point"),
    ({"service_point": POINT, "ttl_hours": 0}, "body.ttl_hours"),
    ({"service_point": POINT, "ttl_hours": "soon"}, "body.ttl_hours"),
    ({"service_point": POINT, "ttl_hours": "12"}, "body.ttl_hours"),
    ({"service_point": POINT, "ttl_hours": True}, "body.ttl_hours"),
    ({"service_point": POINT, "ttl_hours": 12.5}, "body.ttl_hours"),
    ({"service_point": POINT, "ttl_hours": 8761}, "body.ttl_hours"),
    ({"service_point": POINT, "dossier_ref": ""}, "body.dossier_ref"),
    ({"service_point": POINT, "dossier_ref": "   "}, "body.dossier_ref"),
    ({"service_point": POINT, "dossier_ref": "\t\n"}, "body.dossier_ref"),
    ({"service_point": POINT, "dossier_ref": "000 00 01"}, "body.dossier_ref"),
    ({"service_point": POINT, "dossier_ref": "x" * 101}, "body.dossier_ref"),
    ({"service_point": POINT, "dossier_ref": 42}, "body.dossier_ref"),
    ({"service_point": POINT, "extra": 1}, "body.extra"),
]


async def test_an_invalid_body_is_422_naming_the_field_and_stores_nothing(api: Api) -> None:
    for body, location in INVALID_BODIES:
        response = await api.client.post("/api/v1/invitations", json=body, headers=api.auth())
        errors = assert_problem(response, 422, "invalid-request")["errors"]
        assert location in {error["location"] for error in errors}, body
    async with api.database.reading() as tx:
        assert (await tx.scalars(select(Invitation))).all() == []


async def test_a_dossier_reference_loses_only_its_surrounding_spaces(api: Api) -> None:
    first = await api.mint(dossier_ref=f"  {DOSSIER} ")
    again = await api.mint(dossier_ref=DOSSIER)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]


@pytest.mark.parametrize(
    "body",
    [b"{service_point: HN", b"\xff\xfe{", b"[" * 60_000, b'{"service_point": ' + b"[" * 60_000],
    ids=["malformed", "not text", "deep list", "deep value"],
)
async def test_a_body_that_is_not_json_is_a_problem_400_without_a_traceback(
    api: Api, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    response = await api.client.post(
        "/api/v1/invitations",
        content=body,
        headers={**api.auth(), "Content-Type": "application/json"},
    )
    assert_problem(response, 400, "invalid-json")
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("body", [b"{service_point: HN", b"[" * 60_000, b'{"ttl_hours": true}'])
async def test_without_a_key_the_body_is_not_even_read_401(api: Api, body: bytes) -> None:
    response = await api.client.post(
        "/api/v1/invitations", content=body, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 401, "missing-api-key")
    bad_key = await api.client.post(
        "/api/v1/invitations",
        content=body,
        headers={"Content-Type": "application/json", "Authorization": "Bearer sipas_nope"},
    )
    assert_problem(bad_key, 401, "invalid-api-key")


async def test_a_closed_counter_takes_no_invitations(api: Api) -> None:
    assert_problem(await api.mint(service_point=CLOSED_POINT), 409, "inactive-service-point")


async def test_an_invitation_without_dossier_is_new_each_time_and_honours_its_ttl(api: Api) -> None:
    first = (await api.mint(ttl_hours=2)).json()
    second = (await api.mint()).json()
    assert first["id"] != second["id"] and first["payload"] != second["payload"]
    assert first["has_dossier"] is False
    assert first["expires_at"].startswith("2026-11-20T05:00")
    assert second["expires_at"].startswith("2026-11-23T03:00")
    api.clock.advance(hours=3)
    status = (await api.client.get(f"/api/v1/invitations/{first['id']}", headers=api.auth())).json()
    assert status["status"] == "expired"
    gone = await api.client.get(f"/api/v1/invitations/{first['id']}/qr.svg", headers=api.auth())
    assert_problem(gone, 410, "invitation-closed")


async def test_a_dossier_whose_invitation_expired_unanswered_gets_a_new_one(api: Api) -> None:
    first = (await api.mint(dossier_ref=DOSSIER, ttl_hours=1)).json()
    api.clock.advance(hours=2)
    second = await api.mint(dossier_ref=DOSSIER)
    assert second.status_code == 201 and second.json()["id"] != first["id"]


async def test_a_dossier_open_at_another_counter_is_a_conflict(api: Api) -> None:
    first = (await api.mint(dossier_ref=DOSSIER)).json()
    other = await api.mint(dossier_ref=DOSSIER, service_point=OTHER_POINT)
    assert assert_problem(other, 409, "dossier-elsewhere")["invitation_id"] == first["id"]


# --- dossiers are scoped -------------------------------------------------------------------------


async def far_ward_key(api: Api) -> str:
    """A key of the ward that owns FAR_POINT (00008)."""
    async with api.database.transaction() as tx:
        return (
            await create_api_key(tx, name="mot-cua-00008", unit_codes=["00008"], now=api.clock.now)
        ).key


async def test_a_key_cannot_hold_a_dossier_against_the_counters_that_own_it(api: Api) -> None:
    squat = await api.mint(api.ward_key, dossier_ref=DOSSIER, ttl_hours=8760)
    owner = await api.mint(await far_ward_key(api), dossier_ref=DOSSIER, service_point=FAR_POINT)
    # The city's system serves both wards: at the owner's counter it meets the owner's.
    city = await api.mint(api.city_key, dossier_ref=DOSSIER, service_point=FAR_POINT)

    assert (squat.status_code, owner.status_code, city.status_code) == (201, 201, 200)
    assert city.json()["id"] == owner.json()["id"] != squat.json()["id"]


async def test_a_key_learns_nothing_of_dossiers_outside_its_scope(api: Api) -> None:
    owner_key = await far_ward_key(api)
    answered = await api.mint(owner_key, dossier_ref="H26-ANSWERED", service_point=FAR_POINT)
    await api.mint(owner_key, dossier_ref="H26-OPEN", service_point=FAR_POINT)
    async with api.database.transaction() as tx:
        await tx.execute(
            update(Invitation)
            .where(Invitation.id == answered.json()["id"])
            .values(completed_at=api.clock.now)
        )

    probes = {
        reference: await api.mint(api.ward_key, dossier_ref=reference)
        for reference in ("H26-ANSWERED", "H26-OPEN", "H26-NEVER-SEEN")
    }

    assert {reference: probe.status_code for reference, probe in probes.items()} == {
        "H26-ANSWERED": 201,
        "H26-OPEN": 201,
        "H26-NEVER-SEEN": 201,
    }
    for probe in probes.values():
        assert FAR_POINT not in probe.text and answered.json()["id"] not in probe.text
    # The owner still gets the one answer per transaction it is owed.
    again = await api.mint(owner_key, dossier_ref="H26-ANSWERED", service_point=FAR_POINT)
    assert assert_problem(again, 409, "dossier-answered")["invitation_id"] == answered.json()["id"]


async def test_keys_meet_over_a_dossier_at_the_counters_both_serve(api: Api) -> None:
    city = await api.mint(api.city_key, dossier_ref=DOSSIER)
    ward = await api.mint(api.ward_key, dossier_ref=DOSSIER)
    elsewhere = await api.mint(api.ward_key, dossier_ref=DOSSIER, service_point=OTHER_POINT)

    assert (city.status_code, ward.status_code) == (201, 200)
    assert ward.json()["id"] == city.json()["id"]
    assert assert_problem(elsewhere, 409, "dossier-elsewhere")["invitation_id"] == city.json()["id"]


async def test_the_dossier_reference_is_stored_only_as_a_keyed_hash(api: Api) -> None:
    minted = (await api.mint(dossier_ref=DOSSIER)).json()
    async with api.database.reading() as tx:
        row = (await tx.scalars(select(Invitation))).one()
    stored = str([getattr(row, column.key) for column in Invitation.__table__.columns])
    assert DOSSIER not in stored and minted["payload"] not in stored
    assert minted["short_code"] not in stored
    assert row.dossier_hash is not None and len(row.dossier_hash) == 64


async def test_the_same_dossier_minted_twice_at_once_gives_one_invitation(api: Api) -> None:
    responses = await asyncio.gather(*(api.mint(dossier_ref=DOSSIER) for _ in range(4)))
    assert sorted(response.status_code for response in responses) == [200, 200, 200, 201]
    assert len({response.json()["id"] for response in responses}) == 1
    async with api.database.reading() as tx:
        assert len((await tx.scalars(select(Invitation))).all()) == 1


async def test_with_a_public_url_the_qr_code_opens_the_landing_page_at_absolute_urls(
    database: Database,
) -> None:
    api = await make_api(database, public_url="https://khaosat.example.gov.vn")
    async with api.client:
        minted = (await api.mint()).json()
        png = await api.client.get(minted["qr_png_url"], headers=api.auth())
    assert minted["qr_png_url"] == (
        f"https://khaosat.example.gov.vn/api/v1/invitations/{minted['id']}/qr.png"
    )
    landing = f"https://khaosat.example.gov.vn/s/{minted['payload']}"
    assert minted["landing_url"] == landing
    assert minted["telegram_link"] == f"https://t.me/{BOT}?start={minted['payload']}"
    assert decoded(png.content) == [landing]


async def test_an_unknown_problem_type_is_404_listing_the_known_ones(api: Api) -> None:
    body = assert_problem(
        await api.client.get("/api/v1/problems/nope"), 404, "unknown-problem-type"
    )
    assert "dossier-answered" in body["detail"]


async def test_a_mistyped_path_or_method_is_problem_json_too(api: Api) -> None:
    assert_problem(await api.client.get("/api/v1/invitaitons"), 404, "unknown-endpoint")
    slash = await api.client.post("/api/v1/invitations/", json={}, headers=api.auth())
    assert "trailing slash" in assert_problem(slash, 404, "unknown-endpoint")["detail"]
    wrong_method = await api.client.delete("/api/v1/invitations", headers=api.auth())
    assert_problem(wrong_method, 405, "method-not-allowed")
    assert wrong_method.headers["Allow"] == "POST"


# --- one invitation, two respondents -----------------------------------------------------------------


async def test_two_respondents_claiming_one_invitation_at_once_exactly_one_wins(api: Api) -> None:
    payload = (await api.mint(dossier_ref=DOSSIER)).json()["payload"]
    engine = SurveyEngine(api.database, load_bundled(), engine_config())
    first = Respondent(engine, "1001", api.clock)
    second = Respondent(engine, "2002", api.clock)
    replies = await asyncio.gather(
        engine.handle(first.inbound(InboundKind.START, payload)),
        engine.handle(second.inbound(InboundKind.START, payload)),
    )
    consented = [
        r for r in replies if r and r[-1].choices() and r[-1].choices()[0].data == "consent:yes"
    ]
    refused = [r for r in replies if r and "người khác" in r[0].text]
    assert len(consented) == 1 and len(refused) == 1
    async with api.database.reading() as tx:
        invitation = (await tx.scalars(select(Invitation))).one()
    assert invitation.claimed_by is not None
