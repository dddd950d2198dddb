"""The dashboard's survey rounds page: progress per group and rated unit, for admins only."""

from __future__ import annotations

import httpx

from questionnaires.rounds import BUNDLED_ROUNDS
from tests.handlers.test_survey_rounds import mint, store_round
from tests.web.test_dashboard import ADMIN, VIEWER, Seeded, client, log_in, seeded

__all__ = ["client", "seeded"]  # the dashboard's fixtures, with its two staff accounts


async def test_admins_see_each_groups_progress_and_viewers_do_not(
    client: httpx.AsyncClient, seeded: Seeded
) -> None:
    seed = (BUNDLED_ROUNDS / "seed-2021-officials.yaml").read_text(encoding="utf-8")
    await store_round(seeded.database, seed)
    await mint(seeded.database, "LD_HUYEN", 4, round_code="seed-2021-officials")

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
