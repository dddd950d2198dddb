"""What every server-rendered page of the web app shares: strict security headers and CSRF checks.

The staff dashboard and the citizens' web survey both serve HTML forms without any
script. Every answer under their paths carries one set of headers (`SecuredPages`: pages,
redirects, downloads, and the framework's own 404, 405 and 400 answers alike), and their
forms one CSRF check: an Origin check when the browser sends one, and a token in the form
that the server derives, keyed with the deployment secret, from what the request is bound
to. For a signed-in staff member that is the session (`web.dashboard.auth`); before any
session, a random cookie (a signed double-submit token).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storage.privacy import keyed_hash, same_digest

__all__ = [
    "CSRF_COOKIE",
    "SECURITY_HEADERS",
    "FormRefused",
    "SecuredPages",
    "checked_form",
    "csrf_seed",
    "csrf_token",
    "new_csrf_seed",
]

CSRF_COOKIE = "sipas_csrf"
SECURITY_HEADERS = {
    # No script at all; styles and images from this origin (SVG is inline markup).
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # URLs carry one-time codes and invitation payloads
    "Cache-Control": "no-store",
}


class FormRefused(Exception):
    """A posted form failed the Origin or CSRF check: answer 400, change nothing."""


def new_csrf_seed() -> str:
    """The random value of a fresh CSRF cookie."""
    return secrets.token_urlsafe(24)


def csrf_token(secret: str, seed: str) -> str:
    """The form token that goes with a CSRF cookie value."""
    return keyed_hash(secret, "staff-csrf", seed)[:40]


def csrf_seed(cookie: str) -> tuple[str, bool]:
    """The CSRF cookie's value the request came with, or a new one when it came with none
    (True: set it on the response)."""
    return (cookie, False) if 20 <= len(cookie) <= 64 else (new_csrf_seed(), True)


async def checked_form(request: Request, expected: str | None) -> dict[str, str]:
    """The posted form's text fields, after the Origin check and the check of its token
    against `expected`, the token the server derives for this request (None: there is
    none, as without a CSRF cookie); FormRefused if either fails."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        wanted = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if origin.rstrip("/") != wanted:
            raise FormRefused("the form was posted from another site")
    form = await request.form()
    values = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    if expected is None or not same_digest(values.get("csrf", ""), expected):
        raise FormRefused("the form's CSRF token is not the one of its request")
    return values


class SecuredPages:
    """ASGI middleware: every answer under `prefixes` carries `SECURITY_HEADERS` (those a
    route set itself, as a stylesheet's Cache-Control, are kept)."""

    def __init__(self, app: ASGIApp, prefixes: Sequence[str]) -> None:
        self.app = app
        self.prefixes = tuple(prefixes)

    def _covers(self, path: str) -> bool:
        return any(path == prefix or path.startswith(prefix + "/") for prefix in self.prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._covers(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, secured)
