"""The invitation API at the dossier's two moments: invitations minted at the result, and the
one-stop system saying that a dossier's result was returned."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from handlers.events import Reply
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.api_keys import create_api_key
from storage.db import Database
from storage.models import Invitation, ResultFollowUp
from tests import hanoi
from tests.conftest import TEST_SECRET
from tests.survey_driver import POINT, Clock, Respondent, add_counters, engine_config
from web.app import create_app
from web.invitation_api import invitation_router

DOSSIER = "000.00.01.H26-261120-0001"
FAR_POINT = "HN-00008-01"  # another ward: outside the ward key's units
CHAT = "731946285"
PROBLEM = "application/problem+json"


@dataclass
class Api:
    client: httpx.AsyncClient
    database: Database
    engine: SurveyEngine
    clock: Clock
    ward_key: str
    city_key: str
    sent: list[tuple[str, list[Reply]]] = field(default_factory=list)

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.ward_key}"}

    async def mint(self, key: str | None = None, **body: Any) -> httpx.Response:
        return await self.client.post(
            "/api/v1/invitations", json={"service_point": POINT, **body}, headers=self.auth(key)
        )

    async def returned(self, invitation_id: str, key: str | None = None) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/invitations/{invitation_id}/result-returned", headers=self.auth(key)
        )

    async def returned_dossier(self, dossier: str, key: str | None = None) -> httpx.Response:
        return await self.client.post(
            "/api/v1/result-returned", json={"dossier_ref": dossier}, headers=self.auth(key)
        )


@pytest.fixture
async def api(database: Database) -> AsyncIterator[Api]:
    await add_counters(database)
    clock = Clock()
    async with database.transaction() as tx:
        await hanoi.add_ward(tx, "00008", counters=[FAR_POINT])
        ward = await create_api_key(tx, name="mot-cua-ba-dinh", unit_codes=["00004"], now=clock.now)
        city = await create_api_key(tx, name="mot-cua-ha-noi", unit_codes=["01"], now=clock.now)
    engine = SurveyEngine(database, load_bundled(), engine_config(result_follow_up_days=60))
    made = Api(httpx.AsyncClient(), database, engine, clock, ward.key, city.key)

    async def telegram(address: str, replies: list[Reply]) -> None:
        made.sent.append((address, replies))

    async def send_owed() -> None:
        for message in await engine.due_result_follow_ups(clock.now):
            await telegram(message.address, message.replies)

    router = invitation_router(
        database,
        secret=TEST_SECRET,
        bot_username="sipas_test_bot",
        public_url=None,
        default_ttl=timedelta(hours=72),
        clock=lambda: clock.now,
        send_result_follow_ups=send_owed,
    )
    transport = httpx.ASGITransport(app=create_app([router]))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        made.client = client
        yield made


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/api/v1/problems/{slug}"
    assert len(body["detail"]) > 40
    return body


async def invitations(database: Database) -> int:
    async with database.reading() as tx:
        return int(await tx.scalar(select(func.count()).select_from(Invitation)) or 0)


async def follow_up_status(database: Database) -> str | None:
    async with database.reading() as tx:
        return await tx.scalar(select(ResultFollowUp.status))


async def answered_not_yet_and_agreed(api: Api, payload: str) -> None:
    citizen = Respondent(api.engine, CHAT, api.clock)
    await citizen.complete(payload, result_follow_up="yes")


async def test_the_spec_documents_both_moments(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()

    assert {
        "/api/v1/invitations/{invitation_id}/result-returned",
        "/api/v1/result-returned",
    } <= set(spec["paths"])
    stage = spec["components"]["schemas"]["Stage"]
    assert stage["enum"] == ["reception", "result"]
    returned = spec["paths"]["/api/v1/invitations/{invitation_id}/result-returned"]["post"]
    assert {"202", "401", "404"} <= set(returned["responses"])
    assert "agreed" in returned["description"]


async def test_an_invitation_at_the_result_says_so_and_reception_is_the_default(api: Api) -> None:
    at_result = await api.mint(stage="result", dossier_ref="D-1")
    at_reception = await api.mint(dossier_ref="D-2")

    assert at_result.status_code == 201 and at_result.json()["stage"] == "result"
    assert at_reception.json()["stage"] == "reception"
    shown = await api.client.get(
        f"/api/v1/invitations/{at_result.json()['id']}", headers=api.auth()
    )
    assert shown.json()["stage"] == "result"


@pytest.mark.parametrize("stage", ["pickup", "RESULT", "", 1, None])
async def test_a_wrong_stage_is_refused_naming_the_field_and_nothing_is_stored(
    api: Api, stage: object
) -> None:
    response = await api.mint(stage=stage, dossier_ref=DOSSIER)

    errors = assert_problem(response, 422, "invalid-request")["errors"]
    assert [error["location"] for error in errors] == ["body.stage"]
    assert "'reception' or 'result'" in errors[0]["message"]
    assert await invitations(api.database) == 0


async def test_an_unused_reception_invitation_gives_way_to_one_at_the_result(api: Api) -> None:
    reception = (await api.mint(dossier_ref=DOSSIER)).json()

    result = await api.mint(stage="result", dossier_ref=DOSSIER)

    assert result.status_code == 201 and result.json()["id"] != reception["id"]
    old = await api.client.get(f"/api/v1/invitations/{reception['id']}", headers=api.auth())
    assert old.json()["status"] == "expired"
    again = await api.mint(stage="result", dossier_ref=DOSSIER)
    assert again.status_code == 200 and again.json()["id"] == result.json()["id"]


async def test_a_dossier_answered_at_reception_gets_no_second_invitation_at_the_result(
    api: Api,
) -> None:
    reception = (await api.mint(dossier_ref=DOSSIER)).json()
    await Respondent(api.engine, CHAT, api.clock).complete(reception["payload"])

    assert_problem(await api.mint(stage="result", dossier_ref=DOSSIER), 409, "dossier-answered")


async def test_result_returned_sends_the_result_questions_once_to_one_who_agreed(
    api: Api,
) -> None:
    invitation = (await api.mint(dossier_ref=DOSSIER)).json()
    await answered_not_yet_and_agreed(api, invitation["payload"])
    assert await follow_up_status(api.database) == "waiting"

    response = await api.returned(invitation["id"])

    assert response.status_code == 202
    body = response.json()
    assert (body["invitation_id"], body["status"]) == (invitation["id"], "completed")
    [(address, replies)] = api.sent
    assert address == CHAT
    assert replies[-1].choices()[0].data == "a:28:1"
    assert await follow_up_status(api.database) == "sent"
    assert (await api.returned(invitation["id"])).status_code == 202
    assert len(api.sent) == 1


async def test_result_returned_by_dossier_reference(api: Api) -> None:
    invitation = (await api.mint(dossier_ref=DOSSIER)).json()
    await answered_not_yet_and_agreed(api, invitation["payload"])

    response = await api.returned_dossier(DOSSIER)

    assert response.status_code == 202 and response.json()["invitation_id"] == invitation["id"]
    assert [address for address, _ in api.sent] == [CHAT]


async def test_result_returned_for_one_who_said_no_or_never_answered_sends_nothing(
    api: Api,
) -> None:
    said_no = (await api.mint(dossier_ref="D-no")).json()
    await Respondent(api.engine, CHAT, api.clock).complete(said_no["payload"])
    unanswered = (await api.mint(dossier_ref="D-open")).json()

    for invitation in (said_no, unanswered):
        assert (await api.returned(invitation["id"])).status_code == 202
    assert (await api.returned_dossier("D-open")).json()["status"] == "open"

    assert api.sent == []


async def test_another_systems_invitation_or_dossier_is_answered_as_unknown_and_left_alone(
    api: Api,
) -> None:
    foreign = (await api.mint(api.city_key, service_point=FAR_POINT, dossier_ref=DOSSIER)).json()
    await answered_not_yet_and_agreed(api, foreign["payload"])

    refused = assert_problem(await api.returned(foreign["id"]), 404, "unknown-invitation")
    unknown = assert_problem(await api.returned("0123456789abcdef"), 404, "unknown-invitation")
    assert refused["detail"].replace(foreign["id"], "ID") == unknown["detail"].replace(
        "0123456789abcdef", "ID"
    )
    assert FAR_POINT not in refused["detail"] and "00008" not in refused["detail"]
    by_dossier = assert_problem(await api.returned_dossier(DOSSIER), 404, "unknown-dossier")
    never = assert_problem(await api.returned_dossier("no-such-dossier"), 404, "unknown-dossier")
    assert by_dossier["detail"] == never["detail"]

    assert api.sent == []
    assert await follow_up_status(api.database) == "waiting"
    # The city's own system reaches it.
    assert (await api.returned(foreign["id"], api.city_key)).status_code == 202
    assert [address for address, _ in api.sent] == [CHAT]


async def test_a_result_returned_without_a_key_is_refused(api: Api) -> None:
    response = await api.client.post("/api/v1/result-returned", json={"dossier_ref": DOSSIER})

    assert_problem(response, 401, "missing-api-key")
