"""One staff dashboard's settings, and how its routes answer: HTML pages with their security
headers (those of every page of the web app, `web.forms`), cookies, error pages and the
redirect to the sign-in page.

The routes are module-level functions (`accounts`, `pages`, `downloads`); `dashboard_router`
builds one `Dashboard` and binds it to each request it serves, where the routes' dependencies
(`deps`) find it. A route refuses a request by raising `Refused` or `SignInNeeded`;
`DashboardRoute` turns them into the page the browser gets.
"""

# No `from __future__ import annotations`: FastAPI reads `Dashboard.bind`'s annotations.

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from analytics.days import Period
from analytics.layout import ItemLayout
from analytics.method import Method
from analytics.query import ReportQuery
from analytics.schemes import ScoringScheme
from storage.db import Database
from storage.models import StaffAccount
from storage.staff import Scope
from web.dashboard.auth import LANGUAGE_COOKIE, SessionSigner
from web.dashboard.paths import DASHBOARD_PREFIX, LOGIN_PATH
from web.dashboard.text import LANGUAGES, TEXT
from web.forms import CSRF_COOKIE, csrf_seed, csrf_token, secured

__all__ = [
    "Dashboard",
    "DashboardRoute",
    "Refused",
    "SignInNeeded",
    "Staff",
    "dashboard_of",
    "language_of",
    "sign_in_redirect",
    "templates",
]

TEMPLATES_DIR = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member: the account, what it may see, and its session cookie."""

    account: StaffAccount
    scope: Scope
    token: str


class Refused(Exception):
    """A request answered with an error page: its status, the message's key in `TEXT`, and
    the staff member who asked (None: nobody signed in)."""

    def __init__(self, status: int, key: str, staff: Staff | None = None) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.staff = staff


class SignInNeeded(Exception):
    """A page asked for without a live session: the browser goes to the sign-in page."""


def templates() -> jinja2.Environment:
    """The dashboard's Jinja templates: everything escaped, an unknown name an error."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # every value, comments included, is HTML-escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["pct"] = lambda value: "–" if value is None else f"{value:.1f}"
    return environment


def language_of(request: Request) -> str:
    """The language the visitor chose (a cookie), Vietnamese unless English."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    return chosen if chosen in LANGUAGES else "vi"


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def sign_in_redirect(request: Request) -> Response:
    """To the sign-in page, which comes back here afterwards."""
    return secured(RedirectResponse(f"{LOGIN_PATH}?next={quote(_here(request))}", status_code=303))


@dataclass(frozen=True, kw_only=True)
class Dashboard:
    """What one dashboard serves (its database and figures' settings) and how it answers."""

    database: Database
    secret: str
    zone: ZoneInfo
    min_cell_size: int
    layout: ItemLayout
    method: Method
    labels: Mapping[str, Mapping[str, str]]  # language → element/item code → label
    comment_items: Sequence[str]
    scheme: ScoringScheme | None
    cookie_secure: bool
    session_hours: int
    login_attempts: int
    login_window: timedelta
    clock: Callable[[], datetime]
    sessions: SessionSigner
    # Each check takes tens of milliseconds of CPU and 64 MiB (argon2's defaults): a flood
    # of logins queues here instead of taking every thread and the memory with it.
    password_checks: asyncio.Semaphore
    templates: jinja2.Environment

    def report_query(self, period: Period, level: str) -> ReportQuery:
        """The index table of a period and level, by this dashboard's method and cell size."""
        return ReportQuery(period, level, self.layout, self.method, self.min_cell_size)

    def bind(self, request: Request) -> None:
        """The dependency `dashboard_router` puts before every route: the request is ours."""
        request.state.dashboard = self

    def set_cookie(self, response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=DASHBOARD_PREFIX,
            secure=self.cookie_secure,
            httponly=True,
            samesite="lax",
        )

    def render(
        self,
        request: Request,
        template: str,
        staff: Staff | None,
        status: int = 200,
        **context: Any,
    ) -> Response:
        """A page: the template with what every page shows, and a CSRF cookie if it lacks one."""
        language = language_of(request)
        seed, fresh = csrf_seed(request)
        html = self.templates.get_template(template).render(
            t=TEXT[language],
            lang=language,
            other_lang="en" if language == "vi" else "vi",
            here=_here(request),
            prefix=DASHBOARD_PREFIX,
            csrf=csrf_token(self.secret, seed),
            staff=staff,
            min_cell_size=self.min_cell_size,
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        if fresh:
            self.set_cookie(response, CSRF_COOKIE, seed, None)
        return secured(response)

    def error_page(self, request: Request, refusal: Refused) -> Response:
        return self.render(
            request, "error.html", refusal.staff, status=refusal.status, message_key=refusal.key
        )


def dashboard_of(request: Request) -> Dashboard:
    """The dashboard `Dashboard.bind` bound this request to."""
    dashboard = getattr(request.state, "dashboard", None)
    if not isinstance(dashboard, Dashboard):
        raise TypeError("a dashboard route outside dashboard_router: no Dashboard bound")
    return dashboard


class DashboardRoute(APIRoute):
    """Answers `SignInNeeded` with the sign-in redirect and `Refused` with an error page,
    raised by a route or by one of its dependencies."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInNeeded:
                return sign_in_redirect(request)
            except Refused as refusal:
                return dashboard_of(request).error_page(request, refusal)

        return handle
