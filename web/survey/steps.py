"""The web survey in a phone's browser (`/s/survey`): the step the respondent is on, and their
taps, comments and commands, on the chats' engine as channel `web`.

The respondent is a random cookie (`sipas_respondent`, HttpOnly), renewed with every page:
the engine keeps only its keyed hash, as it does a chat's address, so a respondent resumes
within the window and withdraws while the cookie lasts.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from channels.web_form import LANGUAGE_DATA, WEB, inbound_of, page_of
from handlers.events import Inbound, InboundKind, Reply
from web.survey.paths import LANDING_PREFIX, STATIC_PREFIX, SURVEY_PATH
from web.survey.site import STYLESHEET, CitizenPages, CitizenRoute, Pages, PostedForm
from web.survey.text import LANGUAGES

__all__ = ["RESPONDENT_COOKIE", "language_after", "router", "web_step"]

RESPONDENT_COOKIE = "sipas_respondent"

router = APIRouter(route_class=CitizenRoute)


def language_after(inbound: Inbound, language: str) -> str:
    """The page's language after this event: a tap on the language switch changes it."""
    if inbound.kind is InboundKind.CHOICE and inbound.payload.startswith(LANGUAGE_DATA):
        wanted = inbound.payload.removeprefix(LANGUAGE_DATA)
        return wanted if wanted in LANGUAGES else language
    return language


def web_step(
    pages: CitizenPages, request: Request, replies: list[Reply], chat: str, language: str
) -> Response:
    """The page of the step the engine replied with, the respondent's cookie renewed."""
    response = pages.render(
        request,
        "step.html",
        language,
        page=page_of(replies),
        action=SURVEY_PATH,
        withdraw=True,
        home=None,
    )
    # Renewed with every page: resume within the window, withdraw after finishing.
    pages.set_cookie(response, RESPONDENT_COOKIE, chat, LANDING_PREFIX, pages.respondent_lifetime)
    return response


@router.get(f"{STATIC_PREFIX}/{STYLESHEET}")
async def stylesheet() -> Response:
    response = Response(
        (Path(__file__).parent / "static" / STYLESHEET).read_bytes(),
        media_type="text/css; charset=utf-8",
    )
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@router.get(SURVEY_PATH)
async def current_step(request: Request, pages: Pages) -> Response:
    """The step the respondent is on (a reload, the tab opened again)."""
    language = pages.language_of(request)
    chat = pages.respondent_of(request, RESPONDENT_COOKIE)
    if chat is None:
        return pages.message(request, language, pages.catalog.text(language, "nothing_open"))
    replies = await pages.handle(pages.own_event(WEB, chat, InboundKind.SHOW))
    return web_step(pages, request, replies, chat, language)


@router.post(SURVEY_PATH)
async def answer(request: Request, pages: Pages, form: PostedForm) -> Response:
    """A tap, a typed comment or a command on the page of a step."""
    language = pages.language_of(request)
    chat = pages.respondent_of(request, RESPONDENT_COOKIE)
    if chat is None:
        return pages.message(request, language, pages.catalog.text(language, "nothing_open"))
    inbound = inbound_of(WEB, chat, form, locale=language, received_at=pages.clock())
    replies = await pages.converse(inbound)
    return web_step(pages, request, replies, chat, language_after(inbound, language))
