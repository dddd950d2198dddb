"""The dashboard's pages: the overview (a staff member's units, the map), the ranking, a unit's
page, and the stylesheet they use."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from analytics.days import Period
from analytics.levels import LEVELS
from analytics.report import breakdown_table, index_table
from analytics.wording import local_time, number, period_name
from storage.aggregation_runs import data_as_of
from storage.staff import unit_level
from storage.units import list_units
from web.dashboard import figures
from web.dashboard.deps import Chosen, Language, PageUnit, SignedIn, Site
from web.dashboard.map import BINS, NO_DATA, SUPPRESSED, MapValue, render_map
from web.dashboard.paths import DASHBOARD_PREFIX
from web.dashboard.site import Dashboard, DashboardRoute, Staff
from web.dashboard.text import TEXT

__all__ = ["router"]

STATIC_DIR = Path(__file__).parent / "static"
STATIC_FILES = {
    "dashboard.css": "text/css; charset=utf-8",
    "LICENSE-data.txt": "text/plain; charset=utf-8",
}

router = APIRouter(route_class=DashboardRoute)

# A staff member's units on the overview: (level, code, the unit's row if it has figures).
HomeRow = tuple[str, str, figures.UnitRow | None]


def query(period: Period, level: str, **more: str) -> str:
    """The query string of a page or download for a period and level (and more)."""
    parts = {"period": period.label, "level": level, **more}
    return "&".join(f"{key}={quote(value)}" for key, value in parts.items())


async def _rows(
    site: Dashboard, staff: Staff, period: Period, level: str, unit_code: str | None = None
) -> list[figures.UnitRow]:
    """The rows of a level's table the staff member may see (of one unit, if given)."""
    table = await index_table(site.database, site.report_query(period, level), unit_code=unit_code)
    return figures.rows_of(table, level, staff.scope)


async def _as_of_text(site: Dashboard, language: str) -> str:
    when = await data_as_of(site.database)
    if when is None:
        return TEXT[language]["never"]
    return TEXT[language]["as_of"].format(when=local_time(when, site.zone, language))


async def _home_units(site: Dashboard, staff: Staff) -> list[tuple[str, str]]:
    """(level, code) of the units a staff member looks at first."""
    async with site.database.reading() as session:
        if staff.account.role == "admin" or not staff.account.unit_codes:
            provinces = await list_units(session, level="province")
            return [("province", unit.code) for unit in provinces]
        found = []
        for code in staff.account.unit_codes:
            level = await unit_level(session, code)
            if level is not None:
                found.append((level, code))
        return found


async def _homes(site: Dashboard, staff: Staff, period: Period) -> list[HomeRow]:
    homes: list[HomeRow] = []
    for level, code in await _home_units(site, staff):
        found = await _rows(site, staff, period, level, unit_code=code)
        homes.append((level, code, found[0] if found else None))
    return homes


def _map_values(rows: list[figures.UnitRow], language: str) -> dict[str, MapValue]:
    words = TEXT[language]
    values = {}
    for row in rows:
        cell = row.overall
        label = (
            words["suppressed"]
            if cell.suppressed
            else (number(cell.index, language) if cell.index is not None else words["no_figure"])
        ) + f" (n={cell.n_respondents})"
        values[row.unit_code] = MapValue(cell.index, cell.suppressed, label)
    return values


def _legend(language: str) -> list[tuple[str, str]]:
    words = TEXT[language]
    entries, lower = [], 0.0
    for upper, colour in BINS:
        shown_upper = min(upper, 100.0)
        entries.append((colour, f"{lower:.0f}–{shown_upper:.0f}"))
        lower = upper
    return [*entries, (SUPPRESSED, words["suppressed"]), (NO_DATA, words["no_figure"])]


def _communes_map(
    communes: list[figures.UnitRow], staff: Staff, period: Period, language: str
) -> str:
    """The SVG map of the communes' overall indices, focused on a viewer's own."""
    focus = None if staff.scope.everything else {row.unit_code for row in communes} or None
    return render_map(
        _map_values(communes, language),
        title=TEXT[language]["map_title"].format(period=period_name(period, language)),
        focus=focus,
        link=f"{DASHBOARD_PREFIX}/units/{{code}}?{query(period, 'commune')}",
    )


@router.get("/")
async def overview(
    request: Request, site: Site, staff: SignedIn, choice: Chosen, language: Language
) -> Response:
    period, level = choice.period, choice.level
    level_rows = await _rows(site, staff, period, level)
    communes = level_rows if level == "commune" else await _rows(site, staff, period, "commune")
    homes = await _homes(site, staff, period)
    first = next(((lvl, code, row) for lvl, code, row in homes if row is not None), None)
    trend = (
        await figures.trend(site.database, site.report_query(period, first[0]), first[1])
        if first
        else []
    )
    return site.render(
        request,
        "overview.html",
        staff,
        period=period,
        passed_over=choice.passed_over,
        level=level,
        levels=LEVELS,
        rows=level_rows,
        homes=homes,
        first=first[2] if first else None,
        trend=trend,
        element_codes=[code for code, _ in site.layout.elements],
        labels=figures.element_labels(site.labels, site.layout, language),
        map_svg=_communes_map(communes, staff, period, language),
        legend=_legend(language),
        as_of=await _as_of_text(site, language),
        method_id=f"{site.method.id} v{site.method.version}",
        query=query(period, level),
        unit_query=query(period, level),
    )


@router.get("/ranking")
async def ranking(
    request: Request, site: Site, staff: SignedIn, choice: Chosen, language: Language
) -> Response:
    rows = await _rows(site, staff, choice.period, choice.level)
    figured = sorted(
        (row for row in rows if row.overall.index is not None),
        key=lambda row: (-(row.overall.index or 0.0), -row.overall.n_respondents, row.unit_code),
    )
    # Only overall indices over every element are compared; the others are listed apart.
    elements = len(site.layout.elements)
    shown = [row for row in figured if row.overall.elements_used == elements]
    partial = [row for row in figured if row.overall.elements_used != elements]
    hidden = [row for row in rows if row.overall.index is None]
    return site.render(
        request,
        "ranking.html",
        staff,
        period=choice.period,
        level=choice.level,
        levels=LEVELS,
        shown=shown,
        partial=partial,
        elements=elements,
        hidden=hidden,
        as_of=await _as_of_text(site, language),
        query=query(choice.period, choice.level),
    )


async def _counters(
    site: Dashboard, staff: Staff, period: Period, level: str, points: list[str]
) -> list[figures.UnitRow]:
    """The rows of a unit's counters (none on a counter's own page)."""
    if level == "service_point":
        return []
    rows = await _rows(site, staff, period, "service_point")
    return [counter for counter in rows if counter.unit_code in points]


# The unit is checked before the period: an unknown unit is 404 whatever the query says.
@router.get("/units/{code}")
async def unit_page(
    request: Request,
    site: Site,
    staff: SignedIn,
    unit: PageUnit,
    choice: Chosen,
    language: Language,
) -> Response:
    period, level, code = choice.period, unit.level, unit.code
    found = await _rows(site, staff, period, level, unit_code=code)
    row = found[0] if found else None
    points = (
        await figures.points_of(site.database, level, code) if level != "service_point" else [code]
    )
    comment_minimum = max(figures.COMMENT_MIN_RESPONDENTS, site.min_cell_size)
    enough_for_comments = (
        row is not None
        and not row.overall.suppressed
        and row.overall.n_respondents >= comment_minimum
    )
    quality = await figures.quality(site.database, period, points)
    needs = [
        need
        for need in site.plan
        if need.month == period and code in (need.counter or need.authority,)
    ]
    labels = figures.element_labels(site.labels, site.layout, language)
    breakdowns = (
        figures.breakdowns_of(
            await breakdown_table(site.database, site.report_query(period, level), unit_code=code),
            site.layout,
            labels,
            TEXT[language]["unstated"],
        )
        if row is not None
        else []
    )
    return site.render(
        request,
        "unit.html",
        staff,
        code=code,
        level=level,
        period=period,
        row=row,
        unit_name=row.unit_name if row else code,
        element_codes=[element for element, _ in site.layout.elements],
        items_of={element: site.layout.items_of(element) for element, _ in site.layout.elements},
        expectation_codes=site.layout.expectation_codes,
        labels=labels,
        breakdowns=breakdowns,
        trend=await figures.trend(site.database, site.report_query(period, level), code),
        counters=await _counters(site, staff, period, level, points),
        comments=(
            await figures.comments(site.database, period, points, site.comment_items)
            if enough_for_comments
            else None
        ),
        comment_minimum=comment_minimum,
        quality=quality if quality.responses >= site.min_cell_size else None,
        coverage=await figures.invitation_coverage(site.database, period, points, site.zone),
        needs=needs,
        volumes=await figures.volume_coverage(site.database, period, points),
        coverage_target=site.coverage_target_pct,
        as_of=await _as_of_text(site, language),
        query=query(period, level, unit=code),
    )


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in STATIC_FILES:
        return Response(status_code=404)
    response = Response((STATIC_DIR / name).read_bytes(), media_type=STATIC_FILES[name])
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
