"""The citizens' pages (`/s`): a QR code's landing page, the web survey, and the counter kiosk.

    app.include_router(survey_router(engine.handle, database, secret=..., data_controller=...,
                                     bot_username=..., zalo_oa_id=None, ...))

- `GET /s/<payload>`: who runs the survey, the counter, and three ways to answer: here in
  the browser, Zalo (the OA link and the short code to send), Telegram (the deep link).
  Reading it changes nothing; a forged, unknown, expired or used payload gets a page
  saying so.
- `POST /s/<payload>`, then `/s/survey`: the web survey, on the chats' engine (channel
  `web`). The respondent is a random cookie (`sipas_respondent`, HttpOnly), whose keyed
  hash is the respondent key: no address, no user agent is kept. Starts are limited per
  client address (a keyed hash of it, in memory) against ballot stuffing.
- `/s/kiosk/<token>`: a counter's tablet (channel `kiosk`): every respondent a new cookie
  that the start screen forgets, an unfinished survey discarded at every return to it,
  which the page itself asks for after a minute idle or a few seconds after the thanks.

Server-rendered Jinja pages without any script, the dashboard's security headers and CSRF
check (`web.forms`).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

import re
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from channels.web_form import (
    KIOSK,
    LANGUAGE_DATA,
    MAX_TYPED_LENGTH,
    WEB,
    BadForm,
    inbound_of,
    new_event_id,
    page_of,
    start_of,
)
from handlers.catalog import load_catalog
from handlers.events import Command, Inbound, InboundKind, Reply
from storage.api_keys import RateLimiter
from storage.db import Database
from storage.invitations import InvitationProblem, InvitationRefused, counter_payload, telegram_link
from storage.kiosks import live_kiosk
from storage.landing import landing_for
from storage.privacy import keyed_hash
from storage.units import ServicePointListing, get_service_point_listing
from web.forms import CSRF_COOKIE, FormRefused, checked_form, csrf_seed, csrf_token, secured
from web.survey.paths import KIOSK_PREFIX, LANDING_PREFIX, STATIC_PREFIX, SURVEY_PATH
from web.survey.text import LANGUAGES, TEXT

__all__ = ["KIOSK_IDLE_SECONDS", "KIOSK_THANKS_SECONDS", "RESPONDENT_COOKIE", "survey_router"]

Handle = Callable[[Inbound], Awaitable[list[Reply]]]

HERE = Path(__file__).parent
RESPONDENT_COOKIE = "sipas_respondent"
KIOSK_COOKIE = "sipas_kiosk"
LANGUAGE_COOKIE = "sipas_survey_lang"
COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
KIOSK_IDLE_SECONDS = 60  # a kiosk page left alone this long goes back to the start
KIOSK_THANKS_SECONDS = 10  # the thanks (or a refusal) stays this long on a kiosk
STYLESHEET = "survey.css"
# A payload that names nothing is 404; one that named something no longer usable is 410.
NOT_FOUND = {InvitationProblem.MALFORMED, InvitationProblem.FORGED, InvitationProblem.UNKNOWN}


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value, the engine's texts included, is HTML-escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _other(language: str) -> str:
    return "en" if language == "vi" else "vi"


def survey_router(
    handle: Handle,
    database: Database,
    *,
    secret: str,
    data_controller: str,
    bot_username: str | None,
    zalo_oa_id: str | None,
    resume_window: timedelta,
    default_language: str = "vi",
    starts_per_hour: int = 30,
    cookie_secure: bool = True,
    kiosk_idle_seconds: int = KIOSK_IDLE_SECONDS,
    kiosk_thanks_seconds: int = KIOSK_THANKS_SECONDS,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    monotonic: Callable[[], float] = time.monotonic,
) -> APIRouter:
    """The router of the citizens' pages.

    `handle` is the survey engine's entry point. `bot_username` None: Telegram is off and
    not offered; `zalo_oa_id` None: no Zalo OA is offered. `resume_window` is the engine's:
    the respondent cookie lasts that long after the last answer, and at least a day, so
    that one device rates a counter once a day. `starts_per_hour` limits the surveys
    started from one client address. `cookie_secure` should be True whenever the site is
    reached over HTTPS. A kiosk page goes back to the start after `kiosk_idle_seconds`
    without use, and `kiosk_thanks_seconds` after the thanks.
    """
    router = APIRouter(include_in_schema=False)
    templates = _templates()
    catalog = load_catalog()
    starts = RateLimiter(starts_per_hour / 60, burst=starts_per_hour)
    respondent_lifetime = int(max(resume_window, timedelta(days=1)).total_seconds())

    # --- plumbing -----------------------------------------------------------------------

    def language_of(request: Request, chosen: str | None = None) -> str:
        """The page's language: one asked for, else the one last shown, else the default."""
        for candidate in (chosen, request.cookies.get(LANGUAGE_COOKIE)):
            if candidate in LANGUAGES:
                return candidate
        return default_language

    def set_cookie(
        response: Response, name: str, value: str, path: str, max_age: int | None = None
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=path,
            secure=cookie_secure,
            httponly=True,
            samesite="lax",
        )

    def render(
        request: Request, template: str, language: str, status: int = 200, **context: Any
    ) -> Response:
        seed, fresh = csrf_seed(request)
        context.setdefault("switch", None)
        context.setdefault("refresh", None)
        html = templates.get_template(template).render(
            t=TEXT[language],
            lang=language,
            other_lang=_other(language),
            csrf=csrf_token(secret, seed),
            event=new_event_id(),
            stylesheet=f"{STATIC_PREFIX}/{STYLESHEET}",
            max_typed=MAX_TYPED_LENGTH,
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        if fresh:
            set_cookie(response, CSRF_COOKIE, seed, LANDING_PREFIX)
        set_cookie(response, LANGUAGE_COOKIE, language, LANDING_PREFIX)
        return secured(response)

    def message(
        request: Request, language: str, text: str, status: int = 200, **context: Any
    ) -> Response:
        return render(request, "message.html", language, status, text=text, **context)

    def bad_request(request: Request) -> Response:
        language = language_of(request)
        return message(request, language, TEXT[language]["bad_request"], 400)

    def respondent_of(request: Request, cookie: str) -> str | None:
        value = request.cookies.get(cookie, "")
        return value if COOKIE_VALUE.match(value) else None

    def language_after(inbound: Inbound, language: str) -> str:
        """The page's language after this event: a tap on the language switch changes it."""
        if inbound.kind is InboundKind.CHOICE and inbound.payload.startswith(LANGUAGE_DATA):
            wanted = inbound.payload.removeprefix(LANGUAGE_DATA)
            return wanted if wanted in LANGUAGES else language
        return language

    async def converse(inbound: Inbound) -> list[Reply]:
        """The engine's replies; for a form posted twice, the step the respondent is on."""
        replies = await handle(inbound)
        if replies:
            return replies
        return await handle(own_event(inbound.channel, inbound.chat, InboundKind.SHOW))

    def own_event(channel: str, chat: str, kind: InboundKind, payload: str = "") -> Inbound:
        """An event the page itself sends (not a form): showing the step, a kiosk's reset."""
        return Inbound(channel, chat, new_event_id(), kind, payload, None, clock())

    def web_step(request: Request, replies: list[Reply], chat: str, language: str) -> Response:
        response = render(
            request,
            "step.html",
            language,
            page=page_of(replies),
            action=SURVEY_PATH,
            withdraw=True,
            home=None,
        )
        # Renewed with every page: resume within the window, withdraw after finishing.
        set_cookie(response, RESPONDENT_COOKIE, chat, LANDING_PREFIX, respondent_lifetime)
        return response

    # --- static, and the web survey -------------------------------------------------------

    @router.get(f"{STATIC_PREFIX}/{STYLESHEET}")
    async def stylesheet() -> Response:
        response = Response(
            (HERE / "static" / STYLESHEET).read_bytes(), media_type="text/css; charset=utf-8"
        )
        response.headers["Cache-Control"] = "public, max-age=3600"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @router.get(SURVEY_PATH)
    async def current_step(request: Request) -> Response:
        """The step the respondent is on (a reload, the tab opened again)."""
        language = language_of(request)
        chat = respondent_of(request, RESPONDENT_COOKIE)
        if chat is None:
            return message(request, language, catalog.text(language, "nothing_open"))
        replies = await handle(own_event(WEB, chat, InboundKind.SHOW))
        return web_step(request, replies, chat, language)

    @router.post(SURVEY_PATH)
    async def answer(request: Request) -> Response:
        """A tap, a typed comment or a command on the page of a step."""
        try:
            form = await checked_form(request, secret)
        except FormRefused:
            return bad_request(request)
        language = language_of(request)
        chat = respondent_of(request, RESPONDENT_COOKIE)
        if chat is None:
            return message(request, language, catalog.text(language, "nothing_open"))
        try:
            inbound = inbound_of(WEB, chat, form, locale=language, received_at=clock())
        except BadForm:
            return bad_request(request)
        replies = await converse(inbound)
        return web_step(request, replies, chat, language_after(inbound, language))

    # --- the counter's kiosk --------------------------------------------------------------

    async def kiosk_counter(token: str) -> ServicePointListing | None:
        """The open counter of a live kiosk, or None."""
        async with database.reading() as session:
            kiosk = await live_kiosk(session, secret, token)
            if kiosk is None:
                return None
            listing = await get_service_point_listing(session, kiosk.service_point_code)
        return listing if listing is not None and listing.point.active else None

    async def forget_kiosk_respondent(request: Request) -> None:
        """End the survey of the tablet's last respondent, if unfinished: its answers go with
        them (a finished survey is a response already, and stays)."""
        before = respondent_of(request, KIOSK_COOKIE)
        if before is not None:
            await handle(own_event(KIOSK, before, InboundKind.COMMAND, Command.CANCEL))

    @router.get(f"{KIOSK_PREFIX}/{{token}}")
    async def kiosk_start(request: Request, token: str) -> Response:
        """The kiosk's start screen; the respondent before, if any, is forgotten here."""
        # Every respondent starts in the default language, whoever switched before.
        language = language_of(request, request.query_params.get("lang") or default_language)
        counter = await kiosk_counter(token)
        if counter is None:
            return message(request, language, TEXT[language]["kiosk_revoked"], 404)
        home = f"{KIOSK_PREFIX}/{token}"
        await forget_kiosk_respondent(request)
        response = render(
            request,
            "kiosk.html",
            language,
            counter=counter,
            action=home,
            switch=f"{home}?lang={_other(language)}",
        )
        response.delete_cookie(
            KIOSK_COOKIE, path=home, secure=cookie_secure, httponly=True, samesite="lax"
        )
        return response

    @router.post(f"{KIOSK_PREFIX}/{{token}}")
    async def kiosk_step(request: Request, token: str) -> Response:
        """The kiosk's start button, and every step after it."""
        try:
            form = await checked_form(request, secret)
        except FormRefused:
            return bad_request(request)
        language = language_of(request, form.get("lang"))
        counter = await kiosk_counter(token)
        if counter is None:
            return message(request, language, TEXT[language]["kiosk_revoked"], 404)
        home = f"{KIOSK_PREFIX}/{token}"
        chat = respondent_of(request, KIOSK_COOKIE)
        try:
            if "start" in form:
                await forget_kiosk_respondent(request)
                chat = secrets.token_urlsafe(32)  # a new respondent: nothing carries over
                payload = counter_payload(secret, counter.point.code)
                inbound = start_of(KIOSK, chat, payload, form, locale=language, received_at=clock())
            elif chat is None:
                # A step of a respondent the tablet has forgotten: back to the start.
                return secured(RedirectResponse(home, status_code=303))
            else:
                inbound = inbound_of(KIOSK, chat, form, locale=language, received_at=clock())
        except BadForm:
            return bad_request(request)
        page = page_of(await converse(inbound))
        seconds = kiosk_thanks_seconds if page.finished else kiosk_idle_seconds
        response = render(
            request,
            "step.html",
            language_after(inbound, language),
            page=page,
            action=home,
            withdraw=False,
            home=home,
            refresh=f"{seconds};url={home}",
        )
        set_cookie(response, KIOSK_COOKIE, chat, home)
        return response

    # --- landing pages ----------------------------------------------------------------------

    @router.get(f"{LANDING_PREFIX}/{{payload}}")
    async def landing(request: Request, payload: str) -> Response:
        """Who runs the survey, the counter, and the three ways to answer."""
        language = language_of(request, request.query_params.get("lang") or default_language)
        switch = f"{LANDING_PREFIX}/{quote(payload)}?lang={_other(language)}"
        try:
            async with database.reading() as session:
                found = await landing_for(session, secret, payload, clock())
        except InvitationRefused as refused:
            problem = refused.problem
            text = catalog.text(language, f"invitation.{problem.value}")
            return message(
                request, language, text, 404 if problem in NOT_FOUND else 410, switch=switch
            )
        return render(
            request,
            "landing.html",
            language,
            counter=found.listing,
            controller=data_controller,
            action=f"{LANDING_PREFIX}/{found.payload}",
            switch=switch,
            zalo=f"https://zalo.me/{quote(zalo_oa_id)}" if zalo_oa_id else None,
            short_code=found.short_code,
            telegram=telegram_link(bot_username, found.payload) if bot_username else None,
        )

    @router.post(f"{LANDING_PREFIX}/{{payload}}")
    async def start(request: Request, payload: str) -> Response:
        """Answer here in the browser: the survey starts (or resumes) on this device."""
        try:
            form = await checked_form(request, secret)
        except FormRefused:
            return bad_request(request)
        language = language_of(request, form.get("lang"))
        client = request.client.host if request.client else ""
        wait = starts.acquire(keyed_hash(secret, "web-start", client), monotonic())
        if wait is not None:
            minutes = -(-wait // 60)
            response = message(
                request, language, TEXT[language]["too_many"].format(minutes=minutes), 429
            )
            response.headers["Retry-After"] = str(wait)
            return response
        chat = respondent_of(request, RESPONDENT_COOKIE) or secrets.token_urlsafe(32)
        try:
            inbound = start_of(WEB, chat, payload, form, locale=language, received_at=clock())
        except BadForm:
            return bad_request(request)
        return web_step(request, await converse(inbound), chat, language)

    return router
