"""A counter's tablet (`/s/kiosk/<token>`): the web survey for one respondent after another, as
channel `kiosk`.

Every respondent is a new random cookie, held only until the tablet's start screen shows
again; the start screen ends that respondent's unfinished survey (its answers go), and each
page goes back to it by itself (a meta refresh, no script) after a minute idle or a few
seconds after the thanks. Nothing carries over, and nothing resumes.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from channels.web_form import KIOSK, inbound_of, page_of, start_of
from handlers.events import InboundKind
from handlers.survey import CANCEL_CONFIRMED
from storage.invitations import counter_payload
from storage.kiosks import live_kiosk
from storage.units import ServicePointListing, get_service_point_listing
from web.survey.paths import KIOSK_PREFIX
from web.survey.site import CitizenPages, CitizenRoute, Pages, PostedForm, other_language
from web.survey.steps import language_after
from web.survey.text import TEXT

__all__ = ["KIOSK_COOKIE", "KIOSK_IDLE_SECONDS", "KIOSK_THANKS_SECONDS", "router"]

KIOSK_COOKIE = "sipas_kiosk"
KIOSK_IDLE_SECONDS = 60  # a kiosk page left alone this long goes back to the start
KIOSK_THANKS_SECONDS = 10  # the thanks (or a refusal) stays this long on a kiosk

router = APIRouter(route_class=CitizenRoute)


async def _counter(pages: CitizenPages, token: str) -> ServicePointListing | None:
    """The open counter of a live kiosk, or None."""
    async with pages.database.reading() as session:
        kiosk = await live_kiosk(session, pages.secret, token)
        if kiosk is None:
            return None
        listing = await get_service_point_listing(session, kiosk.service_point_code)
    return listing if listing is not None and listing.point.active else None


async def _forget_respondent(pages: CitizenPages, request: Request) -> None:
    """End the survey of the tablet's last respondent, if unfinished: its answers go with
    them (a finished survey is a response already, and stays)."""
    before = pages.respondent_of(request, KIOSK_COOKIE)
    if before is not None:
        # Confirmed already: the next respondent, not this one, is at the tablet to ask.
        await pages.handle(pages.own_event(KIOSK, before, InboundKind.CHOICE, CANCEL_CONFIRMED))


@router.get(f"{KIOSK_PREFIX}/{{token}}")
async def kiosk_start(request: Request, token: str, pages: Pages) -> Response:
    """The kiosk's start screen; the respondent before, if any, is forgotten here."""
    # Every respondent starts in the default language, whoever switched before.
    language = pages.language_of(
        request, request.query_params.get("lang") or pages.default_language
    )
    counter = await _counter(pages, token)
    if counter is None:
        return pages.message(request, language, TEXT[language]["kiosk_revoked"], 404)
    home = f"{KIOSK_PREFIX}/{token}"
    await _forget_respondent(pages, request)
    response = pages.render(
        request,
        "kiosk.html",
        language,
        counter=counter,
        action=home,
        switch=f"{home}?lang={other_language(language)}",
    )
    pages.forget_cookie(response, KIOSK_COOKIE, home)
    return response


@router.post(f"{KIOSK_PREFIX}/{{token}}")
async def kiosk_step(request: Request, token: str, pages: Pages, form: PostedForm) -> Response:
    """The kiosk's start button, and every step after it."""
    language = pages.language_of(request, form.get("lang"))
    counter = await _counter(pages, token)
    if counter is None:
        return pages.message(request, language, TEXT[language]["kiosk_revoked"], 404)
    home = f"{KIOSK_PREFIX}/{token}"
    chat = pages.respondent_of(request, KIOSK_COOKIE)
    now = pages.clock()
    if "start" in form:
        await _forget_respondent(pages, request)
        chat = secrets.token_urlsafe(32)  # a new respondent: nothing carries over
        payload = counter_payload(pages.secret, counter.point.code)
        inbound = start_of(KIOSK, chat, payload, form, locale=language, received_at=now)
    elif chat is None:
        # A step of a respondent the tablet has forgotten: back to the start.
        return RedirectResponse(home, status_code=303)
    else:
        inbound = inbound_of(KIOSK, chat, form, locale=language, received_at=now)
    page = page_of(await pages.converse(inbound))
    seconds = pages.kiosk_thanks_seconds if page.finished else pages.kiosk_idle_seconds
    response = pages.render(
        request,
        "step.html",
        language_after(inbound, language),
        page=page,
        action=home,
        withdraw=False,
        home=home,
        refresh=f"{seconds};url={home}",
    )
    pages.set_cookie(response, KIOSK_COOKIE, chat, home)
    return response
