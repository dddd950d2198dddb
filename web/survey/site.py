"""How the citizens' pages answer: one `CitizenPages` holds their settings and renders every page
(templates, the CSRF tokens of `web.forms`, cookies), and talks to the engine. (Every answer
under `/s` carries the security headers of `web.forms.SecuredPages`.)

The routes are module-level functions (`landing`, `steps`, `kiosk`); `survey_router` builds one
`CitizenPages` and binds it to each request, where the routes' dependencies find it. A form
that fails the CSRF check, or that no page sends, is answered by `CitizenRoute` with a 400 page.
"""

# No `from __future__ import annotations`: FastAPI reads these functions' annotations.

import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute

from channels.web_form import MAX_TYPED_LENGTH, SURFACES, BadForm, new_event_id
from handlers.catalog import Catalog
from handlers.events import Inbound, InboundKind, Reply
from storage.db import Database
from storage.shared_limits import SharedRateLimiter
from web import forms
from web.survey.paths import LANDING_PREFIX, STATIC_PREFIX
from web.survey.text import LANGUAGES, TEXT

__all__ = [
    "LANGUAGE_COOKIE",
    "STYLESHEET",
    "CitizenPages",
    "CitizenRoute",
    "Handle",
    "Pages",
    "PostedForm",
    "other_language",
    "templates",
]

Handle = Callable[[Inbound], Awaitable[list[Reply]]]

HERE = Path(__file__).parent
STYLESHEET = "survey.css"
LANGUAGE_COOKIE = "sipas_survey_lang"
COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)


def templates() -> jinja2.Environment:
    """The citizens' Jinja templates: everything escaped, an unknown name an error."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value, the engine's texts included, is HTML-escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def other_language(language: str) -> str:
    return "en" if language == "vi" else "vi"


@dataclass(frozen=True, kw_only=True)
class CitizenPages:
    """What the citizens' pages serve and how they answer."""

    handle: Handle  # the survey engine's entry point
    database: Database
    secret: str
    data_controller: str
    bot_username: str | None  # None: Telegram is off, and not offered
    zalo_oa_id: str | None  # None: no Zalo OA is offered
    default_language: str
    respondent_lifetime: int  # seconds a web respondent's cookie lasts after a page
    starts: SharedRateLimiter  # web surveys started, per keyed hash of the client address
    cookie_secure: bool
    kiosk_idle_seconds: int
    kiosk_thanks_seconds: int
    clock: Callable[[], datetime]
    monotonic: Callable[[], float]
    catalog: Catalog
    templates: jinja2.Environment

    def bind(self, request: Request) -> None:
        """The dependency `survey_router` puts before every route: the request is ours."""
        request.state.citizen_pages = self

    def language_of(self, request: Request, chosen: str | None = None) -> str:
        """The page's language: one asked for, else the one last shown, else the default."""
        for candidate in (chosen, request.cookies.get(LANGUAGE_COOKIE)):
            if candidate in LANGUAGES:
                return candidate
        return self.default_language

    def set_cookie(
        self, response: Response, name: str, value: str, path: str, max_age: int | None = None
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=path,
            secure=self.cookie_secure,
            httponly=True,
            samesite="lax",
        )

    def forget_cookie(self, response: Response, name: str, path: str) -> None:
        response.delete_cookie(
            name, path=path, secure=self.cookie_secure, httponly=True, samesite="lax"
        )

    @staticmethod
    def respondent_of(request: Request, cookie: str) -> str | None:
        """The respondent a cookie names (a random value this site set), or None."""
        value = request.cookies.get(cookie, "")
        return value if COOKIE_VALUE.match(value) else None

    def render(
        self, request: Request, template: str, language: str, status: int = 200, **context: Any
    ) -> Response:
        """A page: the template with what every page shows, a CSRF cookie if it lacks one,
        and the page's language remembered for the next."""
        seed, fresh = forms.csrf_seed(request.cookies.get(forms.CSRF_COOKIE, ""))
        context.setdefault("switch", None)
        context.setdefault("refresh", None)
        html = self.templates.get_template(template).render(
            t=TEXT[language],
            lang=language,
            other_lang=other_language(language),
            csrf=forms.csrf_token(self.secret, seed),
            event=new_event_id(),
            stylesheet=f"{STATIC_PREFIX}/{STYLESHEET}",
            max_typed=MAX_TYPED_LENGTH,
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        if fresh:
            self.set_cookie(response, forms.CSRF_COOKIE, seed, LANDING_PREFIX)
        self.set_cookie(response, LANGUAGE_COOKIE, language, LANDING_PREFIX)
        return response

    def message(
        self, request: Request, language: str, text: str, status: int = 200, **context: Any
    ) -> Response:
        """A page saying one thing (a refusal, nothing to answer)."""
        return self.render(request, "message.html", language, status, text=text, **context)

    def bad_request(self, request: Request) -> Response:
        language = self.language_of(request)
        return self.message(request, language, TEXT[language]["bad_request"], 400)

    def own_event(self, channel: str, chat: str, kind: InboundKind, payload: str = "") -> Inbound:
        """An event the page itself sends (not a form): showing the step, a kiosk's reset."""
        return Inbound(
            channel, chat, new_event_id(), kind, payload, None, self.clock(), SURFACES[channel]
        )

    async def converse(self, inbound: Inbound) -> list[Reply]:
        """The engine's replies; for a form posted twice, the step the respondent is on."""
        replies = await self.handle(inbound)
        if replies:
            return replies
        return await self.handle(self.own_event(inbound.channel, inbound.chat, InboundKind.SHOW))


def pages_of(request: Request) -> CitizenPages:
    """The `CitizenPages` that `CitizenPages.bind` bound this request to."""
    pages = getattr(request.state, "citizen_pages", None)
    if not isinstance(pages, CitizenPages):
        raise TypeError("a citizens' page outside survey_router: no CitizenPages bound")
    return pages


Pages = Annotated[CitizenPages, Depends(pages_of)]


async def posted_form(request: Request, pages: Pages) -> dict[str, str]:
    """The posted form, after the Origin and CSRF checks (FormRefused when they fail): its
    token must be the one of the page's CSRF cookie."""
    seed, fresh = forms.csrf_seed(request.cookies.get(forms.CSRF_COOKIE, ""))
    return await forms.checked_form(
        request, None if fresh else forms.csrf_token(pages.secret, seed)
    )


PostedForm = Annotated[dict[str, str], Depends(posted_form)]


class CitizenRoute(APIRoute):
    """Answers a form refused by the CSRF check (`forms.FormRefused`), or one no page sends
    (`BadForm`), with a 400 page that changes nothing."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except (forms.FormRefused, BadForm):
                return pages_of(request).bad_request(request)

        return handle
