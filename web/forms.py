"""What every server-rendered page of the web app shares: strict security headers and CSRF checks.

The staff dashboard and the citizens' web survey both serve HTML forms without any
script. Their pages carry one set of headers, and their forms one CSRF defence: a random
cookie, and in each form a keyed hash of it (a signed double-submit token), plus an
Origin check when the browser sends one.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response

from storage.privacy import keyed_hash, same_digest

__all__ = [
    "CSRF_COOKIE",
    "SECURITY_HEADERS",
    "FormRefused",
    "checked_form",
    "csrf_seed",
    "csrf_token",
    "new_csrf_seed",
    "secured",
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


def csrf_seed(request: Request) -> tuple[str, bool]:
    """The request's CSRF cookie value, or a new one (True: set it on the response)."""
    seed = request.cookies.get(CSRF_COOKIE, "")
    return (seed, False) if 20 <= len(seed) <= 64 else (new_csrf_seed(), True)


def secured(response: Response) -> Response:
    """The response with the security headers every page carries."""
    for header, value in SECURITY_HEADERS.items():
        response.headers[header] = value
    return response


async def checked_form(request: Request, secret: str) -> dict[str, str]:
    """The posted form's text fields, after the Origin and CSRF checks (FormRefused if not)."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if origin.rstrip("/") != expected:
            raise FormRefused("the form was posted from another site")
    form = await request.form()
    values = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    seed = request.cookies.get(CSRF_COOKIE, "")
    if not seed or not same_digest(values.get("csrf", ""), csrf_token(secret, seed)):
        raise FormRefused("the form's CSRF token does not match its cookie")
    return values
