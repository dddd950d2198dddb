"""The dashboard routes' FastAPI dependencies: the dashboard, the language, the staff member
signed in, a posted form that passed the CSRF check, the chosen period and level, a unit in
the staff member's scope.

FastAPI solves a route's dependencies in the order its parameters name them, and the first
to refuse answers; routes name them in the order of the checks: the session first (no
session: to the sign-in page), then the unit (404, 403), then the period and level (400).
"""

# No `from __future__ import annotations`: FastAPI reads these functions' annotations.

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, Request

from analytics.days import Period, chosen_period, default_month, reporting_day
from analytics.levels import LEVELS
from storage.staff import staff_by_id, staff_scope, unit_level
from storage.staff_logins import staff_session_ended
from web import forms as web_forms
from web.dashboard import figures
from web.dashboard.auth import SESSION_COOKIE
from web.dashboard.site import Dashboard, Refused, SignInNeeded, Staff, dashboard_of

__all__ = [
    "CheckedForm",
    "Choice",
    "Chosen",
    "Language",
    "PageUnit",
    "QueryUnit",
    "ScopedUnit",
    "SessionStaff",
    "SignedIn",
    "Site",
]

Site = Annotated[Dashboard, Depends(dashboard_of)]


def language_of(request: Request, site: Site) -> str:
    """The language the visitor chose, Vietnamese unless English."""
    return site.language(request)


Language = Annotated[str, Depends(language_of)]


async def session_staff(request: Request, site: Site) -> Staff | None:
    """The staff member whose live session cookie came with the request, or None."""
    token = site.cookie(request, SESSION_COOKIE)
    account_id = site.sessions.account_id(token)
    if account_id is None:
        return None
    async with site.database.reading() as session:
        account = await staff_by_id(session, account_id)
        if account is None or not site.sessions.valid(token, account, site.clock()):
            return None
        if await staff_session_ended(session, site.secret, token):
            return None
        return Staff(account, await staff_scope(session, account), token)


SessionStaff = Annotated[Staff | None, Depends(session_staff)]


async def signed_in(staff: SessionStaff) -> Staff:
    """The staff member signed in; without one, the browser goes to the sign-in page."""
    if staff is None:
        raise SignInNeeded
    return staff


SignedIn = Annotated[Staff, Depends(signed_in)]


async def checked_form(request: Request, site: Site, staff: SessionStaff) -> dict[str, str]:
    """The posted form, after the Origin and CSRF checks (400 when they fail): with a live
    session, its token must be that session's; before sign-in, the pre-session cookie's."""
    try:
        return await web_forms.checked_form(request, site.form_token(request, staff))
    except web_forms.FormRefused:
        raise Refused(400, "bad_request", staff) from None


CheckedForm = Annotated[dict[str, str], Depends(checked_form)]


@dataclass(frozen=True)
class Choice:
    """The period and the level a page or download is for."""

    period: Period
    level: str
    passed_over: Period | None = None  # the young current month the default gave way for


async def _default_period(site: Dashboard) -> tuple[Period, Period | None]:
    """The month of the latest data (today's month when there is none), or the last complete
    month while that is this month and still young; and the month passed over, if any."""
    today = reporting_day(site.clock(), site.zone)
    latest = await figures.latest_data_day(site.database)
    return default_month(latest or today, today)


async def chosen(request: Request, site: Site, staff: SignedIn) -> Choice:
    """`?period=` (default: the latest data's month, or the last complete one early in a
    month), or an evaluation window `?from=&to=` (days, YYYY-MM-DD), and `?level=` (default:
    communes)."""
    params = request.query_params
    text = params.get("period", "").strip()
    first, last = (params.get(name, "").strip() for name in ("from", "to"))
    passed_over = None
    try:
        chosen = chosen_period(
            text if not (first or last) else None,
            date.fromisoformat(first) if first else None,
            date.fromisoformat(last) if last else None,
        )
        if chosen is not None:
            period = chosen
        else:
            period, passed_over = await _default_period(site)
    except ValueError:
        raise Refused(400, "bad_period", staff) from None
    level = request.query_params.get("level", "commune")
    if level not in LEVELS:
        raise Refused(400, "bad_request", staff)
    return Choice(period, level, passed_over)


Chosen = Annotated[Choice, Depends(chosen)]


@dataclass(frozen=True)
class ScopedUnit:
    """A unit, agency or counter the staff member may see, and the level it counts at."""

    level: str
    code: str


async def _in_scope(site: Dashboard, staff: Staff, code: str) -> ScopedUnit:
    async with site.database.reading() as session:
        level = await unit_level(session, code)
    if level is None:
        raise Refused(404, "not_found", staff)
    if not staff.scope.allows(level, code):
        raise Refused(403, "forbidden", staff)
    return ScopedUnit(level, code)


async def page_unit(code: str, site: Site, staff: SignedIn) -> ScopedUnit:
    """The unit of a unit's page (`/units/{code}`): 404 if unknown, 403 if out of scope."""
    return await _in_scope(site, staff, code)


PageUnit = Annotated[ScopedUnit, Depends(page_unit)]


async def query_unit(request: Request, site: Site, staff: SignedIn) -> ScopedUnit | None:
    """The unit a download is narrowed to (`?unit=`), if any: 404 if unknown, 403 if out of
    scope."""
    code = request.query_params.get("unit")
    return None if code is None else await _in_scope(site, staff, code)


QueryUnit = Annotated[ScopedUnit | None, Depends(query_unit)]
