"""A QR code's landing page (`/s/<payload>`): who runs the survey, the counter, and the three
ways to answer; and its "answer here" button, which starts the web survey on this device.

Reading the page changes nothing (link previewers open it too); a forged, unknown, expired or
used payload gets a page saying so. Starts are limited per client address, counted under a
keyed hash of it, in memory, against ballot stuffing.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

import secrets
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from channels.web_form import WEB, start_of
from storage.invitations import InvitationProblem, InvitationRefused, telegram_link
from storage.landing import Landing, RoundLanding, landing_for, round_landing_for
from storage.privacy import keyed_hash
from storage.rounds import ROUND_PREFIX
from web.survey.paths import LANDING_PREFIX
from web.survey.site import CitizenRoute, Pages, PostedForm, other_language
from web.survey.steps import RESPONDENT_COOKIE, web_step
from web.survey.text import TEXT

__all__ = ["router"]

# A payload that names nothing is 404; one that named something no longer usable is 410.
NOT_FOUND = {InvitationProblem.MALFORMED, InvitationProblem.FORGED, InvitationProblem.UNKNOWN}

router = APIRouter(route_class=CitizenRoute)


@router.get(f"{LANDING_PREFIX}/{{payload}}")
async def landing(request: Request, payload: str, pages: Pages) -> Response:
    """Who runs the survey (the counter, or a round's group), and the three ways to answer."""
    language = pages.language_of(
        request, request.query_params.get("lang") or pages.default_language
    )
    switch = f"{LANDING_PREFIX}/{quote(payload)}?lang={other_language(language)}"
    shown: dict[str, Any] = {"counter": None}
    try:
        async with pages.database.reading() as session:
            if payload.startswith(ROUND_PREFIX):
                found: Landing | RoundLanding = await round_landing_for(
                    session, pages.secret, payload
                )
            else:
                found = await landing_for(session, pages.secret, payload, pages.clock())
    except InvitationRefused as refused:
        problem = refused.problem
        text = pages.catalog.text(language, f"invitation.{problem.value}")
        status = 404 if problem in NOT_FOUND else 410
        return pages.message(request, language, text, status, switch=switch)
    if isinstance(found, RoundLanding):
        shown["survey_round"] = found.title.get(language) or found.title["vi"]
        shown["group"] = found.group.get(language) or found.group["vi"]
    else:
        shown["counter"] = found.listing
    zalo = pages.zalo_oa_id
    return pages.render(
        request,
        "landing.html",
        language,
        **shown,
        controller=pages.data_controller,
        action=f"{LANDING_PREFIX}/{found.payload}",
        switch=switch,
        zalo=f"https://zalo.me/{quote(zalo)}" if zalo else None,
        short_code=found.short_code,
        telegram=telegram_link(pages.bot_username, found.payload) if pages.bot_username else None,
    )


@router.post(f"{LANDING_PREFIX}/{{payload}}")
async def start(request: Request, payload: str, pages: Pages, form: PostedForm) -> Response:
    """Answer here in the browser: the survey starts (or resumes) on this device."""
    language = pages.language_of(request, form.get("lang"))
    client = request.client.host if request.client else ""
    wait = await pages.starts.acquire(
        keyed_hash(pages.secret, "web-start", client), pages.monotonic()
    )
    if wait is not None:
        minutes = -(-wait // 60)
        text = TEXT[language]["too_many"].format(minutes=minutes)
        response = pages.message(request, language, text, 429)
        response.headers["Retry-After"] = str(wait)
        return response
    chat = pages.respondent_of(request, RESPONDENT_COOKIE) or secrets.token_urlsafe(32)
    inbound = start_of(WEB, chat, payload, form, locale=language, received_at=pages.clock())
    return web_step(pages, request, await pages.converse(inbound), chat, language)
