"""The staff dashboard's routes (`/dashboard`): login, overview, ranking, unit pages, downloads.

    app.include_router(dashboard_router(database, secret=..., zone=..., min_cell_size=10,
                                        layout=layout, method=method))

Server-rendered Jinja templates, no JavaScript, CSS served from the package. Every page
needs a session; without one the browser goes to the login page. A viewer sees the units
of their scope only; any other unit's page or download is 403.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

import asyncio
import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from analytics.aggregate import data_as_of
from analytics.days import Period, parse_period, period_of, reporting_day
from analytics.export import table_bytes
from analytics.layout import ItemLayout
from analytics.levels import LEVELS
from analytics.method import Method
from analytics.publish import export_period
from analytics.report import index_table
from analytics.schemes import ScoringScheme
from analytics.xlsx_report import report_filename, report_tables, xlsx_report
from storage.db import Database
from storage.models import StaffAccount
from storage.staff import (
    MIN_PASSWORD_LENGTH,
    Scope,
    StaffError,
    account_by_password_code,
    authenticate,
    set_password,
    staff_scope,
    unit_level,
)
from storage.staff_logins import (
    begin_login_attempt,
    end_staff_session,
    login_succeeded,
    staff_session_ended,
)
from storage.units import list_units
from web.dashboard import figures
from web.dashboard.auth import (
    CSRF_COOKIE,
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    SessionSigner,
    csrf_token,
    new_csrf_seed,
)
from web.dashboard.map import BINS, NO_DATA, SUPPRESSED, MapValue, render_map
from web.dashboard.paths import DASHBOARD_PREFIX, LOGIN_PATH
from web.dashboard.text import LANGUAGES, TEXT

__all__ = ["dashboard_router"]

PASSWORD_CHECKS_AT_ONCE = 2

HERE = Path(__file__).parent
STATIC_FILES = {
    "dashboard.css": "text/css; charset=utf-8",
    "LICENSE-data.txt": "text/plain; charset=utf-8",
}
SECURITY_HEADERS = {
    # No script at all; styles and images from this origin (SVG is inline markup).
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # the password page's URL carries a one-time code
    "Cache-Control": "no-store",
}


class _Refused(Exception):
    """A request answered with an error page (status and message key)."""

    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status = status
        self.key = key


@dataclass(frozen=True)
class _Staff:
    account: StaffAccount
    scope: Scope
    token: str


def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value, comments included, is HTML-escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["pct"] = lambda value: "–" if value is None else f"{value:.1f}"
    return environment


def _safe_next(target: str | None) -> str:
    """Only a dashboard path may be a redirect target (no open redirect)."""
    if not target:
        return DASHBOARD_PREFIX + "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(DASHBOARD_PREFIX):
        return DASHBOARD_PREFIX + "/"
    return target


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
    login_attempts: int = 5,
    login_window: timedelta = timedelta(minutes=15),
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> APIRouter:
    """The dashboard's router. `labels` maps language → element/item code → label;
    `cookie_secure` should be True whenever the site is reached over HTTPS."""
    router = APIRouter(prefix=DASHBOARD_PREFIX, include_in_schema=False)
    templates = _templates()
    sessions = SessionSigner(secret, timedelta(hours=session_hours))
    # Each check takes tens of milliseconds of CPU and 64 MiB (argon2's defaults): a flood
    # of logins queues here instead of taking every thread and the memory with it.
    password_checks = asyncio.Semaphore(PASSWORD_CHECKS_AT_ONCE)
    labels = labels or {}
    comment_minimum = max(figures.COMMENT_MIN_RESPONDENTS, min_cell_size)

    # --- plumbing -----------------------------------------------------------------------

    def language_of(request: Request) -> str:
        chosen = request.cookies.get(LANGUAGE_COOKIE, "")
        return chosen if chosen in LANGUAGES else "vi"

    def csrf_seed(request: Request) -> tuple[str, bool]:
        seed = request.cookies.get(CSRF_COOKIE, "")
        return (seed, False) if 20 <= len(seed) <= 64 else (new_csrf_seed(), True)

    def set_cookie(response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=DASHBOARD_PREFIX,
            secure=cookie_secure,
            httponly=True,
            samesite="lax",
        )

    def finish(response: Response, request: Request) -> Response:
        del request  # kept in the signature: every response goes through here
        for header, value in SECURITY_HEADERS.items():
            response.headers[header] = value
        return response

    def render(
        request: Request,
        template: str,
        staff: _Staff | None,
        status: int = 200,
        **context: Any,
    ) -> Response:
        language = language_of(request)
        seed, fresh = csrf_seed(request)
        words = TEXT[language]
        html = templates.get_template(template).render(
            t=words,
            lang=language,
            other_lang="en" if language == "vi" else "vi",
            here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            prefix=DASHBOARD_PREFIX,
            csrf=csrf_token(secret, seed),
            staff=staff,
            min_cell_size=min_cell_size,
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        if fresh:
            set_cookie(response, CSRF_COOKIE, seed, None)
        return finish(response, request)

    def refused(request: Request, staff: _Staff | None, error: _Refused) -> Response:
        return render(request, "error.html", staff, status=error.status, message_key=error.key)

    def to_login(request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return finish(
            RedirectResponse(f"{LOGIN_PATH}?next={quote(target)}", status_code=303), request
        )

    async def current_staff(request: Request) -> _Staff | None:
        token = request.cookies.get(SESSION_COOKIE, "")
        account_id = sessions.account_id(token)
        if account_id is None:
            return None
        async with database.reading() as session:
            account = await session.get(StaffAccount, account_id)
            if account is None or not sessions.valid(token, account, clock()):
                return None
            if await staff_session_ended(session, secret, token):
                return None
            return _Staff(account, await staff_scope(session, account), token)

    async def check_form(request: Request) -> dict[str, str]:
        """The posted form, after the CSRF and Origin checks (400 when they fail)."""
        origin = request.headers.get("origin")
        if origin and origin != "null":
            expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
            if origin.rstrip("/") != expected:
                raise _Refused(400, "bad_request")
        form = await request.form()
        values = {key: str(value) for key, value in form.items() if isinstance(value, str)}
        seed = request.cookies.get(CSRF_COOKIE, "")
        if not seed or not values.get("csrf") or values["csrf"] != csrf_token(secret, seed):
            raise _Refused(400, "bad_request")
        return values

    async def default_period() -> Period:
        latest = await figures.latest_data_day(database)
        day = latest or reporting_day(clock(), zone)
        return period_of(day, "month")

    async def chosen(request: Request, default_level: str) -> tuple[Period, str]:
        text = request.query_params.get("period", "").strip()
        try:
            period = parse_period(text) if text else await default_period()
        except ValueError:
            raise _Refused(400, "bad_period") from None
        level = request.query_params.get("level", default_level)
        if level not in LEVELS:
            raise _Refused(400, "bad_request")
        return period, level

    async def as_of_text(language: str) -> str:
        when = await data_as_of(database)
        if when is None:
            return TEXT[language]["never"]
        return TEXT[language]["as_of"].format(when=f"{when.astimezone(zone):%Y-%m-%d %H:%M}")

    def labels_in(request: Request) -> dict[str, str]:
        return figures.element_labels(labels, layout, language_of(request))

    async def home_units(staff: _Staff) -> list[tuple[str, str]]:
        """(level, code) of the units a staff member looks at first."""
        async with database.reading() as session:
            if staff.account.role == "admin" or not staff.account.unit_codes:
                return [
                    ("province", unit.code) for unit in await list_units(session, level="province")
                ]
            found = []
            for code in staff.account.unit_codes:
                level = await unit_level(session, code)
                if level is not None:
                    found.append((level, code))
            return found

    def map_values(rows: list[figures.UnitRow], language: str) -> dict[str, MapValue]:
        words = TEXT[language]
        values = {}
        for row in rows:
            cell = row.overall
            label = (
                words["suppressed"]
                if cell.suppressed
                else (f"{cell.index:.1f}" if cell.index is not None else words["no_figure"])
            ) + f" (n={cell.n_respondents})"
            values[row.unit_code] = MapValue(cell.index, cell.suppressed, label)
        return values

    def legend(language: str) -> list[tuple[str, str]]:
        words = TEXT[language]
        entries, lower = [], 0.0
        for upper, colour in BINS:
            shown_upper = min(upper, 100.0)
            entries.append((colour, f"{lower:.0f}–{shown_upper:.0f}"))
            lower = upper
        return [*entries, (SUPPRESSED, words["suppressed"]), (NO_DATA, words["no_figure"])]

    def query(period: Period, level: str, **more: str) -> str:
        parts = {"period": period.label, "level": level, **more}
        return "&".join(f"{key}={quote(value)}" for key, value in parts.items())

    # --- login, password, logout, language ----------------------------------------------

    @router.get("/login")
    async def login_page(request: Request) -> Response:
        return render(
            request,
            "login.html",
            None,
            next=_safe_next(request.query_params.get("next")),
            error=None,
        )

    @router.post("/login")
    async def login(request: Request) -> Response:
        try:
            form = await check_form(request)
        except _Refused as error:
            return refused(request, None, error)
        name = form.get("name", "").strip()[:100]
        target = _safe_next(form.get("next"))
        client = request.client.host if request.client else "?"
        words = TEXT[language_of(request)]
        # Counted in the database, so that every worker counts the same failures.
        subjects = (f"client:{client}", f"name:{name.lower()}")
        async with database.transaction() as session:
            attempt = await begin_login_attempt(
                session,
                secret,
                subjects,
                attempts=login_attempts,
                window=login_window,
                now=clock(),
            )
        if attempt.wait > timedelta(0):
            minutes = math.ceil(attempt.wait / timedelta(minutes=1))
            message = words["too_many"].format(minutes=minutes)
            return render(request, "login.html", None, status=429, next=target, error=message)
        async with password_checks:
            account = await authenticate(database, name, form.get("password", ""))
        if account is None:
            return render(
                request, "login.html", None, status=401, next=target, error=words["login_failed"]
            )
        async with database.transaction() as session:
            await login_succeeded(session, secret, attempt, subjects[1])
        response = RedirectResponse(target, status_code=303)
        set_cookie(response, SESSION_COOKIE, sessions.issue(account, clock()), session_hours * 3600)
        set_cookie(response, CSRF_COOKIE, new_csrf_seed(), None)  # a new session, a new token
        return finish(response, request)

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        try:
            await check_form(request)
        except _Refused as error:
            return refused(request, None, error)
        staff = await current_staff(request)
        if staff is not None:  # only a live cookie: nobody fills the table with made-up ones
            async with database.transaction() as session:
                await end_staff_session(
                    session,
                    secret,
                    staff.token,
                    expires_at=sessions.expires_at(staff.token),
                    now=clock(),
                )
        response = RedirectResponse(LOGIN_PATH, status_code=303)
        response.delete_cookie(
            SESSION_COOKIE, path=DASHBOARD_PREFIX, secure=cookie_secure, httponly=True
        )
        return finish(response, request)

    @router.get("/password")
    async def password_page(request: Request) -> Response:
        code = request.query_params.get("code", "")
        async with database.reading() as session:
            account = (
                await account_by_password_code(session, secret, code, clock()) if code else None
            )
        return render(
            request,
            "password.html",
            None,
            code=code,
            account_name=account.name if account else None,
            error=TEXT[language_of(request)]["bad_code"] if code and account is None else None,
            minimum=MIN_PASSWORD_LENGTH,
        )

    @router.post("/password")
    async def password(request: Request) -> Response:
        try:
            form = await check_form(request)
        except _Refused as refusal:
            return refused(request, None, refusal)
        words = TEXT[language_of(request)]
        code = form.get("code", "").strip()
        problem: str | None = None
        async with database.transaction() as session:
            account = await account_by_password_code(session, secret, code, clock())
            if account is None:
                problem = words["bad_code"]
            elif form.get("password", "") != form.get("repeat", ""):
                problem = words["password_mismatch"]
            else:
                try:
                    set_password(account, form.get("password", ""))
                except StaffError:
                    problem = words["new_password"].format(min=MIN_PASSWORD_LENGTH)
        if problem is not None:
            return render(
                request,
                "password.html",
                None,
                status=400,
                code=code,
                account_name=account.name if account else None,
                error=problem,
                minimum=MIN_PASSWORD_LENGTH,
            )
        return render(
            request,
            "login.html",
            None,
            next=DASHBOARD_PREFIX + "/",
            error=None,
            notice=words["password_set"],
        )

    @router.get("/language/{language}")
    async def switch_language(request: Request, language: str) -> Response:
        response = RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
        if language in LANGUAGES:
            set_cookie(response, LANGUAGE_COOKIE, language, 365 * 24 * 3600)
        return finish(response, request)

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        if name not in STATIC_FILES:
            return Response(status_code=404)
        response = Response((HERE / "static" / name).read_bytes(), media_type=STATIC_FILES[name])
        response.headers["Cache-Control"] = "public, max-age=3600"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    # --- pages --------------------------------------------------------------------------

    @router.get("/")
    async def overview(request: Request) -> Response:
        staff = await current_staff(request)
        if staff is None:
            return to_login(request)
        language = language_of(request)
        try:
            period, level = await chosen(request, "commune")
        except _Refused as error:
            return refused(request, staff, error)
        options = (layout, method, min_cell_size)
        level_rows = figures.rows_of(
            await figures.table(database, period, level, *options), level, staff.scope
        )
        communes = (
            level_rows
            if level == "commune"
            else figures.rows_of(
                await figures.table(database, period, "commune", *options), "commune", staff.scope
            )
        )
        homes = []
        for home_level, code in await home_units(staff):
            found = figures.rows_of(
                await figures.table(database, period, home_level, *options, unit_code=code),
                home_level,
                staff.scope,
            )
            homes.append((home_level, code, found[0] if found else None))
        first = next(((lvl, code, row) for lvl, code, row in homes if row is not None), None)
        trend = await figures.trend(database, period, first[0], first[1], *options) if first else []
        focus = None if staff.scope.everything else {row.unit_code for row in communes} or None
        svg = render_map(
            map_values(communes, language),
            title=TEXT[language]["map_title"].format(period=period.label),
            focus=focus,
            link=f"{DASHBOARD_PREFIX}/units/{{code}}?{query(period, 'commune')}",
        )
        return render(
            request,
            "overview.html",
            staff,
            period=period,
            level=level,
            levels=LEVELS,
            rows=level_rows,
            homes=homes,
            first=first[2] if first else None,
            trend=trend,
            element_codes=[code for code, _ in layout.elements],
            labels=labels_in(request),
            map_svg=svg,
            legend=legend(language),
            as_of=await as_of_text(language),
            method_id=f"{method.id} v{method.version}",
            query=query(period, level),
            unit_query=query(period, level),
        )

    @router.get("/ranking")
    async def ranking(request: Request) -> Response:
        staff = await current_staff(request)
        if staff is None:
            return to_login(request)
        language = language_of(request)
        try:
            period, level = await chosen(request, "commune")
        except _Refused as error:
            return refused(request, staff, error)
        rows = figures.rows_of(
            await figures.table(database, period, level, layout, method, min_cell_size),
            level,
            staff.scope,
        )
        shown = sorted(
            (row for row in rows if row.overall.index is not None),
            key=lambda row: (
                -(row.overall.index or 0.0),
                -row.overall.n_respondents,
                row.unit_code,
            ),
        )
        hidden = [row for row in rows if row.overall.index is None]
        return render(
            request,
            "ranking.html",
            staff,
            period=period,
            level=level,
            levels=LEVELS,
            shown=shown,
            hidden=hidden,
            as_of=await as_of_text(language),
            query=query(period, level),
        )

    @router.get("/units/{code}")
    async def unit_page(request: Request, code: str) -> Response:
        staff = await current_staff(request)
        if staff is None:
            return to_login(request)
        language = language_of(request)
        async with database.reading() as session:
            level = await unit_level(session, code)
        try:
            if level is None:
                raise _Refused(404, "not_found")
            if not staff.scope.allows(level, code):
                raise _Refused(403, "forbidden")
            period, _ = await chosen(request, level)
        except _Refused as error:
            return refused(request, staff, error)
        options = (layout, method, min_cell_size)
        found = figures.rows_of(
            await figures.table(database, period, level, *options, unit_code=code),
            level,
            staff.scope,
        )
        row = found[0] if found else None
        points = (
            await figures.points_of(database, level, code) if level != "service_point" else [code]
        )
        counters = [
            counter
            for counter in figures.rows_of(
                await figures.table(database, period, "service_point", *options),
                "service_point",
                staff.scope,
            )
            if counter.unit_code in points and level != "service_point"
        ]
        enough_for_comments = (
            row is not None
            and not row.overall.suppressed
            and row.overall.n_respondents >= comment_minimum
        )
        quality = await figures.quality(database, period, points)
        return render(
            request,
            "unit.html",
            staff,
            code=code,
            level=level,
            period=period,
            row=row,
            unit_name=row.unit_name if row else code,
            element_codes=[element for element, _ in layout.elements],
            items_of={element: layout.items_of(element) for element, _ in layout.elements},
            labels=labels_in(request),
            trend=await figures.trend(database, period, level, code, *options),
            counters=counters,
            comments=(
                await figures.comments(database, period, points, comment_items)
                if enough_for_comments
                else None
            ),
            comment_minimum=comment_minimum,
            quality=quality if quality.responses >= min_cell_size else None,
            coverage=await figures.invitation_coverage(database, period, points, zone),
            as_of=await as_of_text(language),
            query=query(period, level, unit=code),
        )

    # --- downloads ----------------------------------------------------------------------

    @router.get("/download/{name}")
    async def download(request: Request, name: str) -> Response:
        staff = await current_staff(request)
        if staff is None:
            return to_login(request)
        try:
            period, level = await chosen(request, "commune")
            unit = request.query_params.get("unit")
            if unit is not None:
                async with database.reading() as session:
                    unit_level_ = await unit_level(session, unit)
                if unit_level_ is None:
                    raise _Refused(404, "not_found")
                if not staff.scope.allows(unit_level_, unit):
                    raise _Refused(403, "forbidden")
                level = unit_level_
            if name == "indices.csv":
                data = await index_table(
                    database,
                    period=period,
                    level=level,
                    layout=layout,
                    method=method,
                    min_cell_size=min_cell_size,
                    unit_code=unit,
                )
                mine = data[
                    data["unit_code"].map(lambda code: staff.scope.allows(level, str(code)))
                ]
                body = table_bytes(mine.reset_index(drop=True), "csv")
                filename = f"sipas-{period.label}-{level}{'-' + unit if unit else ''}.csv"
                media = "text/csv; charset=utf-8"
            elif name == "report.xlsx":
                tables = await report_tables(
                    database,
                    period=period,
                    level=level,
                    layout=layout,
                    method=method,
                    min_cell_size=min_cell_size,
                    data_as_of=await data_as_of(database),
                    allowed=(
                        (lambda lvl, code: code == unit)
                        if unit
                        else (None if staff.scope.everything else staff.scope.allows)
                    ),
                )
                # In a worker thread, off the event loop that answers respondents.
                body = await asyncio.to_thread(
                    xlsx_report,
                    tables,
                    layout=layout,
                    method=method,
                    min_cell_size=min_cell_size,
                    language=language_of(request),
                )
                filename = report_filename(period, level)
                media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            elif name in ("export.csv", "export.manifest.json"):
                # The scoring pipeline's file covers every unit: for admins only.
                if not staff.scope.everything or unit is not None:
                    raise _Refused(403, "forbidden")
                body, filename = await scoring_export(
                    period, level, manifest=name.endswith(".json")
                )
                media = "application/json" if name.endswith(".json") else "text/csv; charset=utf-8"
            else:
                raise _Refused(404, "not_found")
        except _Refused as error:
            return refused(request, staff, error)
        response = Response(body, media_type=media)
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return finish(response, request)

    async def scoring_export(period: Period, level: str, *, manifest: bool) -> tuple[bytes, str]:
        """The file `sipas export --format csv` writes, or its manifest, built in a temp dir."""
        with tempfile.TemporaryDirectory() as folder:
            published = await export_period(
                database,
                Path(folder) / f"sipas-{period.label}-{level}.csv",
                "csv",
                period=period,
                level=level,
                layout=layout,
                method=method,
                min_cell_size=min_cell_size,
                scheme=scheme,
            )
            written, manifest_file = published.files, published.manifest
            if manifest:
                return manifest_file.read_bytes(), manifest_file.name
            return written[0].path.read_bytes(), written[0].path.name

    return router
