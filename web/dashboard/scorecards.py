"""The dashboard's PAR Index pages: the ranking of the scorecards a staff member may see, a
unit's scorecard (with the appraisal history, and for admins the council's form), the
comparison by content area, and the XLSX report of those scorecards."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

import asyncio
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from par.appraisal import Appraiser, appraise
from par.assessment import EntryProblem, ParError
from par.criteria import SELF_SCORED, TREES
from par.publish import ParResults, par_results
from par.report import xlsx_report
from par.results import ScorecardResult, in_scope
from web.dashboard.deps import CheckedForm, Language, SignedIn, Site
from web.dashboard.paths import DASHBOARD_PREFIX
from web.dashboard.site import Dashboard, DashboardRoute, Refused, Staff
from web.dashboard.text import TEXT

__all__ = ["router"]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FIELDS = {"criterion": "par_criterion", "appraised": "par_appraised", "reason": "par_reason"}

router = APIRouter(route_class=DashboardRoute)


async def asked_year(request: Request, staff: SignedIn) -> int | None:
    """`?year=` (default: the newest open year); 400 for anything but a year."""
    text = request.query_params.get("year", "").strip()
    if not text:
        return None
    if not (text.isdigit() and len(text) == 4):
        raise Refused(400, "bad_request", staff)
    return int(text)


Year = Annotated[int | None, Depends(asked_year)]


async def _results(site: Dashboard, year: int | None) -> ParResults | None:
    """The year's results, or None when no such year is open."""
    try:
        return await par_results(
            site.database,
            layout=site.layout,
            method=site.method,
            min_cell_size=site.min_cell_size,
            year=year,
        )
    except ParError:
        return None


def _mine(published: ParResults, staff: Staff) -> list[ScorecardResult]:
    return [result for result in published.results if in_scope(staff.scope.allows)(result)]


def _scorecard(published: ParResults | None, staff: Staff, code: str) -> ScorecardResult:
    """A unit's result: 404 when it has no scorecard, 403 when it is not the staff member's."""
    results = published.results if published else []
    result = next((item for item in results if item.unit_code == code), None)
    if result is None:
        raise Refused(404, "not_found", staff)
    if not in_scope(staff.scope.allows)(result):
        raise Refused(403, "forbidden", staff)
    return result


@router.get("/par")
async def par_ranking(request: Request, site: Site, staff: SignedIn, year: Year) -> Response:
    published = await _results(site, year)
    mine = _mine(published, staff) if published else []
    return site.render(
        request,
        "par.html",
        staff,
        published=published,
        trees=[(tree, [result for result in mine if result.tree == tree]) for tree in TREES],
    )


@router.get("/par/compare")
async def par_compare(request: Request, site: Site, staff: SignedIn, year: Year) -> Response:
    published = await _results(site, year)
    mine = _mine(published, staff) if published else []
    return site.render(
        request,
        "par_compare.html",
        staff,
        published=published,
        trees=[
            (tree, rows)
            for tree in TREES
            if (rows := [result for result in mine if result.tree == tree])
        ],
    )


def _unit_page(
    request: Request,
    site: Dashboard,
    staff: Staff,
    published: ParResults,
    result: ScorecardResult,
    *,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    history = [entry for entry in published.history if entry.unit_code == result.unit_code]
    return site.render(
        request,
        "par_unit.html",
        staff,
        status=status,
        published=published,
        result=result,
        history=history,
        appraisable=SELF_SCORED if staff.account.role == "admin" else (),
        error=error,
        form=form or {},
        saved=request.query_params.get("saved") == "1",
    )


@router.get("/par/units/{code}")
async def par_unit(
    request: Request, site: Site, staff: SignedIn, code: str, year: Year
) -> Response:
    published = await _results(site, year)
    result = _scorecard(published, staff, code)
    assert published is not None  # _scorecard found the unit in it
    return _unit_page(request, site, staff, published, result)


@router.post("/par/units/{code}/appraise")
async def par_appraise(
    request: Request,
    site: Site,
    staff: SignedIn,
    code: str,
    form: CheckedForm,
    language: Language,
) -> Response:
    if staff.account.role != "admin":
        raise Refused(403, "forbidden", staff)
    year_text = form.get("year", "")
    year = int(year_text) if year_text.isdigit() and len(year_text) == 4 else None
    published = await _results(site, year)
    result = _scorecard(published, staff, code)
    assert published is not None
    try:
        await appraise(
            site.database,
            unit_code=code,
            criterion_code=form.get("criterion", ""),
            points=form.get("points", ""),
            reason=form.get("reason", ""),
            by=Appraiser(staff.account.id, staff.account.name),
            now=site.clock(),
            year=published.assessment.year,
            channel="dashboard",
        )
    except EntryProblem as problem:
        words = TEXT[language]
        error = f"{words[FIELDS.get(problem.column, 'par_criterion')]}: {problem.message}"
        return _unit_page(
            request, site, staff, published, result, status=400, error=error, form=form
        )
    criterion = form.get("criterion", "")
    target = (
        f"{DASHBOARD_PREFIX}/par/units/{code}?year={published.assessment.year}&saved=1"
        f"#c-{criterion}"
    )
    return RedirectResponse(target, status_code=303)


@router.get("/par/report.xlsx")
async def par_report(site: Site, staff: SignedIn, year: Year) -> Response:
    published = await _results(site, year)
    if published is None:
        raise Refused(404, "not_found", staff)
    mine = replace(published, results=_mine(published, staff))
    if not mine.results:
        raise Refused(404, "not_found", staff)
    document = await asyncio.to_thread(xlsx_report, mine)
    response = Response(document, media_type=XLSX)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="par-{published.assessment.year}.xlsx"'
    )
    return response
