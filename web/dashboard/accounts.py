"""The dashboard's sign-in and accounts: sign in (within `storage.staff_logins.SignInLimits`), sign
out, set a password with a one-time code, choose the language."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

import asyncio
import math
from datetime import timedelta
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from storage.models import StaffAccount
from storage.staff import (
    MIN_PASSWORD_LENGTH,
    StaffError,
    account_by_password_code,
    authenticate,
    hash_new_password,
    spend_password_code,
)
from storage.staff_logins import begin_login_attempt, end_staff_session, login_succeeded
from web.dashboard.auth import LANGUAGE_COOKIE, SESSION_COOKIE
from web.dashboard.deps import CheckedForm, Language, SessionStaff, Site, checked_form
from web.dashboard.paths import DASHBOARD_PREFIX, LOGIN_PATH
from web.dashboard.site import Dashboard, DashboardRoute
from web.dashboard.text import LANGUAGES, TEXT
from web.forms import CSRF_COOKIE, new_csrf_seed

__all__ = ["router"]

router = APIRouter(route_class=DashboardRoute)


def _safe_next(target: str | None) -> str:
    """Only a dashboard path may be a redirect target (no open redirect)."""
    if not target:
        return DASHBOARD_PREFIX + "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(DASHBOARD_PREFIX):
        return DASHBOARD_PREFIX + "/"
    return target


@router.get("/login")
async def login_page(request: Request, site: Site, staff: SessionStaff) -> Response:
    next_page = _safe_next(request.query_params.get("next"))
    return site.render(request, "login.html", staff, next=next_page, error=None)


@router.post("/login")
async def login(
    request: Request, site: Site, staff: SessionStaff, form: CheckedForm, language: Language
) -> Response:
    name = form.get("name", "").strip()[:100]
    target = _safe_next(form.get("next"))
    address = request.client.host if request.client else "?"
    words = TEXT[language]
    # Counted in the database, so that every worker counts the same failures.
    async with site.database.transaction() as session:
        attempt = await begin_login_attempt(
            session,
            site.secret,
            name=name.lower(),
            address=address,
            limits=site.sign_in,
            now=site.clock(),
        )
    if attempt.wait > timedelta(0):
        minutes = math.ceil(attempt.wait / timedelta(minutes=1))
        message = words["too_many"].format(minutes=minutes)
        return site.render(request, "login.html", staff, status=429, next=target, error=message)
    # Someone has been guessing this name: every try, the owner's too, waits before the check.
    await site.sleep(attempt.delay.total_seconds())
    async with site.password_checks:
        account = await authenticate(site.database, name, form.get("password", ""))
    if account is None:
        failed = words["login_failed"]
        return site.render(request, "login.html", staff, status=401, next=target, error=failed)
    async with site.database.transaction() as session:
        await login_succeeded(session, site.secret, attempt, name=name.lower(), address=address)
    response = RedirectResponse(target, status_code=303)
    session_cookie = site.sessions.issue(account, site.clock())
    site.set_cookie(request, response, SESSION_COOKIE, session_cookie, site.session_hours * 3600)
    # The pre-session cookie of the sign-in form does not outlive it.
    site.set_cookie(request, response, CSRF_COOKIE, new_csrf_seed(), None)
    return response


@router.post("/logout")
async def logout(request: Request, site: Site, staff: SessionStaff) -> Response:
    if staff is not None:
        # Only a form of this very session ends it: a forged logout ends nothing. Without
        # a live session there is nothing to end (nobody fills the table with made-up ones).
        await checked_form(request, site, staff)
        async with site.database.transaction() as session:
            await end_staff_session(
                session,
                site.secret,
                staff.token,
                expires_at=site.sessions.expires_at(staff.token),
                now=site.clock(),
            )
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    site.delete_cookie(request, response, SESSION_COOKIE)
    return response


@router.get("/password")
async def password_page(
    request: Request, site: Site, staff: SessionStaff, language: Language
) -> Response:
    code = request.query_params.get("code", "")
    async with site.database.reading() as session:
        account = (
            await account_by_password_code(session, site.secret, code, site.clock())
            if code
            else None
        )
    return site.render(
        request,
        "password.html",
        staff,
        code=code,
        account_name=account.name if account else None,
        error=TEXT[language]["bad_code"] if code and account is None else None,
        minimum=MIN_PASSWORD_LENGTH,
    )


async def _set_password(
    site: Dashboard, form: dict[str, str], words: dict[str, str]
) -> tuple[StaffAccount | None, str | None]:
    """Set the password the form asks for: the account its code is valid for (None: no
    account, or none any more), and what is wrong (None: the password is set).

    argon2 hashes in a worker thread, between two transactions: it takes tens of milliseconds
    of CPU, which on the event loop would stop every survey event for as long and, inside a
    transaction on SQLite, hold the one write lock too. The code is checked again as the
    hash is stored, so a code spent meanwhile sets nothing.
    """
    code, new_password = form.get("code", "").strip(), form.get("password", "")
    async with site.database.reading() as session:
        account = await account_by_password_code(session, site.secret, code, site.clock())
    if account is None:
        return None, words["bad_code"]
    if new_password != form.get("repeat", ""):
        return account, words["password_mismatch"]
    try:
        async with site.password_checks:  # sign-in's limit, for every argon2 computation
            password_hash = await asyncio.to_thread(hash_new_password, new_password)
    except StaffError:
        return account, words["new_password"].format(min=MIN_PASSWORD_LENGTH)
    async with site.database.transaction() as session:
        account = await spend_password_code(session, site.secret, code, password_hash, site.clock())
    return account, None if account is not None else words["bad_code"]


@router.post("/password")
async def password(
    request: Request, site: Site, staff: SessionStaff, form: CheckedForm, language: Language
) -> Response:
    words = TEXT[language]
    account, problem = await _set_password(site, form, words)
    if problem is not None:
        return site.render(
            request,
            "password.html",
            staff,
            status=400,
            code=form.get("code", "").strip(),
            account_name=account.name if account else None,
            error=problem,
            minimum=MIN_PASSWORD_LENGTH,
        )
    return site.render(
        request,
        "login.html",
        staff,
        next=DASHBOARD_PREFIX + "/",
        error=None,
        notice=words["password_set"],
    )


@router.get("/language/{language}")
async def switch_language(request: Request, site: Site, language: str) -> Response:
    response = RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    if language in LANGUAGES:
        site.set_cookie(request, response, LANGUAGE_COOKIE, language, 365 * 24 * 3600)
    return response
