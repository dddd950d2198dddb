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
check (`web.forms`). The routes live by concern in `landing`, `steps` and `kiosk`, and find
this router's settings (a `site.CitizenPages`) through their dependencies.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends

from handlers.catalog import load_catalog
from storage.db import Database
from storage.shared_limits import SharedRateLimiter
from web.survey import kiosk, landing, steps
from web.survey.kiosk import KIOSK_IDLE_SECONDS, KIOSK_THANKS_SECONDS
from web.survey.site import CitizenPages, Handle, templates

__all__ = ["survey_router"]


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
    pages = CitizenPages(
        handle=handle,
        database=database,
        secret=secret,
        data_controller=data_controller,
        bot_username=bot_username,
        zalo_oa_id=zalo_oa_id,
        default_language=default_language,
        respondent_lifetime=int(max(resume_window, timedelta(days=1)).total_seconds()),
        starts=SharedRateLimiter(
            database, "web-start", starts_per_hour / 60, burst=starts_per_hour
        ),
        cookie_secure=cookie_secure,
        kiosk_idle_seconds=kiosk_idle_seconds,
        kiosk_thanks_seconds=kiosk_thanks_seconds,
        clock=clock,
        monotonic=monotonic,
        catalog=load_catalog(),
        templates=templates(),
    )
    router = APIRouter(include_in_schema=False, dependencies=[Depends(pages.bind)])
    # The fixed paths before `/s/{payload}`, which would take them for payloads.
    for concern in (steps, kiosk, landing):
        router.include_router(concern.router)
    return router
