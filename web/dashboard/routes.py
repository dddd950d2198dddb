"""The staff dashboard's router (`/dashboard`): sign-in and accounts, pages, downloads.

    app.include_router(dashboard_router(database, secret=..., zone=..., min_cell_size=10,
                                        layout=layout, method=method))

Server-rendered Jinja templates, no JavaScript, CSS served from the package. Every page
needs a session; without one the browser goes to the login page. A viewer sees the units
of their scope only; any other unit's page or download is 403.

The routes live by concern in `accounts`, `pages`, `downloads`, `scorecards` (the PAR
Index) and `rounds` (survey rounds' progress, for admins), and find this router's settings
(a `site.Dashboard`) through their dependencies (`deps`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends

from analytics.layout import ItemLayout
from analytics.method import Method
from analytics.plan import Need
from analytics.schemes import ScoringScheme
from storage.db import Database
from storage.staff_logins import SignInLimits
from web.dashboard import accounts, downloads, pages, rounds, scorecards
from web.dashboard.auth import SessionSigner
from web.dashboard.paths import DASHBOARD_PREFIX
from web.dashboard.site import Dashboard, templates

__all__ = ["PASSWORD_CHECKS_AT_ONCE", "SIGN_IN_LIMITS", "dashboard_router"]

PASSWORD_CHECKS_AT_ONCE = 2
SIGN_IN_LIMITS = SignInLimits()


def dashboard_router(
    database: Database,
    *,
    secret: str,
    zone: ZoneInfo,
    min_cell_size: int,
    layout: ItemLayout,
    method: Method,
    labels: Mapping[str, Mapping[str, str]] | None = None,
    comment_items: Sequence[str] = ("y_kien_khac",),
    scheme: ScoringScheme | None = None,
    cookie_secure: bool = True,
    session_hours: int = 12,
    sign_in: SignInLimits = SIGN_IN_LIMITS,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    plan: Sequence[Need] = (),
    coverage_target_pct: float = 60.0,
) -> APIRouter:
    """The dashboard's router. `labels` maps language → element/item code → label;
    `cookie_secure` should be True whenever the site is reached over HTTPS (the dashboard
    also sees it in a request's scheme). `sleep` holds a sign-in for its delay (tests
    record it instead). `plan` (from SIPAS_PLAN_VOLUMES) puts progress on unit pages."""
    dashboard = Dashboard(
        database=database,
        secret=secret,
        zone=zone,
        min_cell_size=min_cell_size,
        coverage_target_pct=coverage_target_pct,
        layout=layout,
        method=method,
        labels=labels or {},
        comment_items=comment_items,
        scheme=scheme,
        cookie_secure=cookie_secure,
        session_hours=session_hours,
        sign_in=sign_in,
        clock=clock,
        sleep=sleep,
        plan=plan,
        sessions=SessionSigner(secret, timedelta(hours=session_hours)),
        password_checks=asyncio.Semaphore(PASSWORD_CHECKS_AT_ONCE),
        templates=templates(),
    )
    router = APIRouter(
        prefix=DASHBOARD_PREFIX,
        include_in_schema=False,
        dependencies=[Depends(dashboard.bind)],
    )
    for concern in (accounts, pages, downloads, scorecards, rounds):
        router.include_router(concern.router)
    return router
