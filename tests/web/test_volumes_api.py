"""Dossier volumes over the API: a one-stop system reports how many dossiers each counter received
per day and authority, all or nothing, and a resend replaces the earlier figure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import Agency, DossierVolume
from tests.hanoi import CITY
from tests.survey_driver import OTHER_POINT, POINT
from tests.web.test_invitation_api import FAR_POINT, Api, assert_problem, make_api


@pytest.fixture
async def api(database: Database) -> AsyncIterator[Api]:
    made = await make_api(database)
    async with database.transaction() as tx:
        tx.add(Agency(code="HN-STP", name="Sở Tư pháp", kind="department", unit_code=CITY))
    async with made.client:
        yield made


async def report(api: Api, *entries: dict[str, Any], key: str | None = None) -> httpx.Response:
    return await api.client.post(
        "/api/v1/volumes", json={"volumes": list(entries)}, headers=api.auth(key)
    )


async def stored(database: Database) -> list[tuple[str, date, str, int]]:
    async with database.reading() as tx:
        rows = (await tx.scalars(select(DossierVolume))).all()
    return sorted(
        (row.service_point_code, row.day, row.authority_code, row.dossiers) for row in rows
    )


async def test_volumes_are_stored_with_the_counters_authority_by_default(api: Api) -> None:
    response = await report(
        api,
        {"service_point": POINT, "day": "2026-11-28", "dossiers": 40},
        {"service_point": POINT, "day": "2026-11-28", "authority": "HN-STP", "dossiers": 12},
        {"service_point": OTHER_POINT, "day": "2026-11-28", "dossiers": 0},
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"added": 3, "updated": 0, "unchanged": 0}
    day = date(2026, 11, 28)
    assert await stored(api.database) == [
        (POINT, day, "00004", 40),  # a counter without an agency: its ward
        (POINT, day, "HN-STP", 12),
        (OTHER_POINT, day, "00004", 0),
    ]


async def test_a_resend_replaces_the_earlier_figure(api: Api) -> None:
    entry = {"service_point": POINT, "day": "2026-11-28", "dossiers": 40}
    await report(api, entry)

    again = await report(api, entry)
    corrected = await report(api, {**entry, "dossiers": 42})

    assert again.json() == {"added": 0, "updated": 0, "unchanged": 1}
    assert corrected.json() == {"added": 0, "updated": 1, "unchanged": 0}
    assert await stored(api.database) == [(POINT, date(2026, 11, 28), "00004", 42)]


async def test_bad_entries_are_each_named_and_nothing_is_stored(api: Api) -> None:
    response = await report(
        api,
        {"service_point": POINT, "day": "2026-11-28", "dossiers": 40},
        {"service_point": "HN-99999-01", "day": "2026-11-28", "dossiers": 3},
        {"service_point": POINT, "day": "2026-11-29", "authority": "HN-NOWHERE", "dossiers": 3},
        {"service_point": POINT, "day": "2026-11-28", "authority": "00004", "dossiers": 5},
    )

    body = assert_problem(response, 422, "invalid-request")
    assert [error["location"] for error in body["errors"]] == [
        "body.volumes.1.service_point",
        "body.volumes.2.authority",
        "body.volumes.3.day",  # the same counter, day and authority as entry 0
    ]
    assert "unknown authority 'HN-NOWHERE'" in body["errors"][1]["message"]
    assert await stored(api.database) == []


@pytest.mark.parametrize(
    ("entry", "location"),
    [
        ({"service_point": POINT, "day": "2026-11-28", "dossiers": -1}, "dossiers"),
        ({"service_point": POINT, "day": "2026-11-28", "dossiers": "40"}, "dossiers"),
        ({"service_point": POINT, "day": "28/11/2026", "dossiers": 4}, "day"),
        ({"service_point": POINT, "dossiers": 4}, "day"),
        ({"service_point": POINT, "day": "2026-11-28", "dossiers": 4, "x": 1}, "x"),
    ],
)
async def test_malformed_entries_are_refused(
    api: Api, entry: dict[str, Any], location: str
) -> None:
    response = await report(
        api, {"service_point": OTHER_POINT, "day": "2026-11-28", "dossiers": 1}, entry
    )

    body = assert_problem(response, 422, "invalid-request")
    assert body["errors"][0]["location"] == f"body.volumes.1.{location}"
    assert await stored(api.database) == []


async def test_a_counter_outside_the_keys_scope_refuses_the_whole_report(api: Api) -> None:
    entries = (
        {"service_point": POINT, "day": "2026-11-28", "dossiers": 40},
        {"service_point": FAR_POINT, "day": "2026-11-28", "dossiers": 7},
    )

    refused = await report(api, *entries)
    by_the_city = await report(api, *entries, key=api.city_key)

    body = assert_problem(refused, 403, "out-of-scope")
    assert body["entries"] == [1]
    assert by_the_city.json() == {"added": 2, "updated": 0, "unchanged": 0}


async def test_a_report_needs_a_key_and_entries(api: Api) -> None:
    no_key = await api.client.post("/api/v1/volumes", json={"volumes": []})
    empty = await report(api)

    assert_problem(no_key, 401, "missing-api-key")
    assert_problem(empty, 422, "invalid-request")


async def test_the_openapi_document_describes_the_volumes(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()

    operation = spec["paths"]["/api/v1/volumes"]["post"]
    assert set(operation["responses"]) >= {"200", "401", "403", "422"}
    assert "VolumesRequest" in str(operation["requestBody"])
