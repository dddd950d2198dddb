"""The dashboard's survey rounds page (admins): per round, per group the target, invitations
minted and opened, forms completed, and per rated unit the forms that rated it."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from analytics.rounds import progress_table, units_rated
from questionnaires.rounds import RoundPlan
from storage.rounds import completed_round_sessions, group_progress, list_rounds
from web.dashboard.deps import Language, SignedIn, Site
from web.dashboard.site import DashboardRoute, Refused

__all__ = ["router"]

router = APIRouter(route_class=DashboardRoute)


@dataclass(frozen=True)
class RoundProgress:
    """One round as the page shows it."""

    code: str
    title: str
    closed: bool
    groups: list[dict[Hashable, Any]]
    units: list[tuple[str, str, int]]  # code, name, completed forms that rated it


@router.get("/rounds")
async def rounds_page(
    request: Request, site: Site, staff: SignedIn, language: Language
) -> Response:
    if staff.account.role != "admin":
        raise Refused(403, "forbidden", staff)
    shown: list[RoundProgress] = []
    async with site.database.reading() as tx:
        for survey_round in await list_rounds(tx):
            plan = RoundPlan.from_json(survey_round.plan)
            progress = await group_progress(tx, plan.code)
            rated = units_rated(await completed_round_sessions(tx, plan.code))
            title = plan.title.get(language) or plan.title["vi"]
            shown.append(
                RoundProgress(
                    plan.code,
                    title,
                    survey_round.closed_at is not None,
                    progress_table(plan, progress).to_dict(orient="records"),
                    [(u.code, u.named(language), rated.get(u.code, 0)) for u in plan.units],
                )
            )
    return site.render(request, "rounds.html", staff, rounds=shown)
