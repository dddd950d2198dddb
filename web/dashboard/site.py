"""One staff dashboard's settings, and how its routes answer: HTML pages with their CSRF tokens,
cookies (`__Host-` over HTTPS), error pages and the redirect to the sign-in page. (Every answer
under `/dashboard` carries the security headers of `web.forms.SecuredPages`.)

The routes are module-level functions (`accounts`, `pages`, `downloads`); `dashboard_router`
builds one `Dashboard` and binds it to each request it serves, where the routes' dependencies
(`deps`) find it. A route refuses a request by raising `Refused` or `SignInNeeded`;
`DashboardRoute` turns them into the page the browser gets.
"""

# No `from __future__ import annotations`: FastAPI reads `Dashboard.bind`'s annotations.

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
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
from analytics.plan import Need
from analytics.query import ReportQuery
from analytics.schemes import ScoringScheme
from analytics.wording import CAVEAT, number, period_input, period_name
from storage.db import Database
from storage.models import StaffAccount
from storage.staff import Scope
from storage.staff_logins import SignInLimits
from web.dashboard.auth import HOST_PREFIX, LANGUAGE_COOKIE, SessionSigner
from web.dashboard.paths import DASHBOARD_PREFIX, LOGIN_PATH
from web.dashboard.text import LANGUAGES, TEXT
from web.forms import CSRF_COOKIE, csrf_seed, csrf_token, new_csrf_seed

__all__ = [
    "Dashboard",
    "DashboardRoute",
    "Refused",
    "SignInNeeded",
    "Staff",
    "dashboard_of",
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
    environment.filters["pct"] = jinja2.pass_context(
        lambda context, value: number(value, context["lang"])
    )
    environment.filters["period_name"] = jinja2.pass_context(
        lambda context, period: period_name(period, context["lang"])
    )
    environment.filters["period_input"] = period_input
    return environment


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def sign_in_redirect(request: Request) -> Response:
    """To the sign-in page, which comes back here afterwards."""
    return RedirectResponse(f"{LOGIN_PATH}?next={quote(_here(request))}", status_code=303)


@dataclass(frozen=True, kw_only=True)
class Dashboard:
    """What one dashboard serves (its database and figures' settings) and how it answers."""

    database: Database
    secret: str
    zone: ZoneInfo
    min_cell_size: int
    coverage_target_pct: float  # SIPAS_COVERAGE_TARGET_PCT: coverage below it is marked
    layout: ItemLayout
    method: Method
    labels: Mapping[str, Mapping[str, str]]  # language → element/item code → label
    comment_items: Sequence[str]
    scheme: ScoringScheme | None
    cookie_secure: bool  # SIPAS_PUBLIC_URL is https: every request came over HTTPS
    session_hours: int
    sign_in: SignInLimits
    clock: Callable[[], datetime]
    sleep: Callable[[float], Awaitable[None]]  # holds a sign-in for its delay
    plan: Sequence[Need] = ()  # responses needed per authority, counter and month (sipas plan)
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

    def https(self, request: Request) -> bool:
        """Whether the visitor reached the dashboard over HTTPS: the public URL says so, or the
        request's scheme does (behind a proxy, from its X-Forwarded-Proto: uvicorn's
        `--proxy-headers`, on by default for a proxy on the same host)."""
        return self.cookie_secure or request.url.scheme == "https"

    def cookie_name(self, request: Request, name: str) -> str:
        """What a dashboard cookie is called: `__Host-` first over HTTPS."""
        return HOST_PREFIX + name if self.https(request) else name

    def cookie(self, request: Request, name: str) -> str:
        """The value of a dashboard cookie ("" if the request has none)."""
        return request.cookies.get(self.cookie_name(request, name), "")

    def set_cookie(
        self, request: Request, response: Response, name: str, value: str, max_age: int | None
    ) -> None:
        https = self.https(request)
        response.set_cookie(
            self.cookie_name(request, name),
            value,
            max_age=max_age,
            # A __Host- cookie must have the path /; over plain HTTP the dashboard's own.
            path="/" if https else DASHBOARD_PREFIX,
            secure=https,
            httponly=True,
            samesite="lax",
        )

    def delete_cookie(self, request: Request, response: Response, name: str) -> None:
        https = self.https(request)
        response.delete_cookie(
            self.cookie_name(request, name),
            path="/" if https else DASHBOARD_PREFIX,
            secure=https,
            httponly=True,
            samesite="lax",
        )

    def language(self, request: Request) -> str:
        """The language the visitor chose (a cookie), Vietnamese unless English."""
        chosen = self.cookie(request, LANGUAGE_COOKIE)
        return chosen if chosen in LANGUAGES else "vi"

    def form_token(self, request: Request, staff: Staff | None) -> str | None:
        """The CSRF token a form posted with this request must carry: the session's for a
        signed-in staff member, else the one of the pre-session cookie (None: it has none)."""
        if staff is not None:
            return self.sessions.csrf_token(staff.token)
        seed, fresh = csrf_seed(self.cookie(request, CSRF_COOKIE))
        return None if fresh else csrf_token(self.secret, seed)

    def render(
        self,
        request: Request,
        template: str,
        staff: Staff | None,
        status: int = 200,
        **context: Any,
    ) -> Response:
        """A page: the template with what every page shows, and its forms' CSRF token (before
        sign-in, with a pre-session cookie if the request lacks one)."""
        language = self.language(request)
        token = self.form_token(request, staff)
        seed = None
        if token is None:
            seed = new_csrf_seed()
            token = csrf_token(self.secret, seed)
        html = self.templates.get_template(template).render(
            t=TEXT[language],
            lang=language,
            other_lang="en" if language == "vi" else "vi",
            here=_here(request),
            prefix=DASHBOARD_PREFIX,
            csrf=token,
            staff=staff,
            min_cell_size=self.min_cell_size,
            caveat=CAVEAT[language],
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        if seed is not None:
            self.set_cookie(request, response, CSRF_COOKIE, seed, None)
        return response

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
