"""The dashboard's survey rounds page: progress per group and rated unit, for admins only."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx

from questionnaires.rounds import BUNDLED_ROUNDS, read_round_file
from storage.rounds import add_round, get_round, mint_round_invitations
from tests.conftest import TEST_SECRET
from tests.web.test_dashboard import ADMIN, VIEWER, Seeded, client, log_in, seeded

__all__ = ["client", "seeded"]  # the dashboard's fixtures, with its two staff accounts


async def test_admins_see_each_groups_progress_and_viewers_do_not(
    client: httpx.AsyncClient, seeded: Seeded
) -> None:
    loaded = read_round_file(BUNDLED_ROUNDS / "seed-2021-officials.yaml")
    now = datetime(2026, 1, 10, tzinfo=UTC)
    async with seeded.database.transaction() as tx:
        await add_round(
            tx,
            code=loaded.plan.code,
            plan=loaded.plan.to_json(),
            questionnaire_id=loaded.questionnaire.id,
            questionnaire_version=loaded.questionnaire.version,
            questionnaire_source=loaded.questionnaire_source,
            opens_on=date(2026, 1, 5),
            closes_on=date(2026, 2, 28),
            now=now,
        )
        survey_round = await get_round(tx, loaded.plan.code)
        assert survey_round is not None
        await mint_round_invitations(tx, TEST_SECRET, survey_round, "LD_HUYEN", 4, now)

    assert (await log_in(client, VIEWER)).status_code == 303
    assert (await client.get("/dashboard/rounds")).status_code == 403
    await client.post("/dashboard/logout")
    client.cookies.clear()
    assert (await log_in(client, ADMIN)).status_code == 303
    page = await client.get("/dashboard/rounds")
    assert page.status_code == 200
    assert "Lãnh đạo UBND cấp huyện" in page.text
    assert 'data-group="LD_HUYEN">0/9<' in page.text
    assert 'data-group="DB_HDND">0/50<' in page.text
    assert 'data-unit="SO-TC">0<' in page.text
