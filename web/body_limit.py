"""Every request's body bounded while it is read, before any route authenticates or parses it.

One ASGI middleware for the whole app: it reads the body itself, counting the bytes as they
arrive (a declared Content-Length over the limit is refused before reading any), and hands
the route a body it knows to be within the limit. A body over the limit, chunked or not, is
answered 413 after at most the limit and one chunk were read; the rest is never read, and
the connection is closed. Routes find their body complete in memory and small, so none of
them needs a limit of its own.

The limit is per path: the platforms' webhooks take events of up to a few hundred
kilobytes; everything else (the invitation API, the dashboard's and the survey's forms)
takes `MAX_BODY_BYTES`. The 413 is problem+json under `/api/v1`, plain text elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web import telegram_webhook, zalo_webhooks
from web.invitation_api.paths import API_PREFIX
from web.invitation_api.problems import ApiProblem

__all__ = ["BODY_LIMITS", "MAX_BODY_BYTES", "BodyLimit", "limit_for"]

# The longest form is the web survey's typed answer (8,000 characters), percent-encoded: at
# most 9 bytes per Vietnamese letter, 72 KB. An invitation request is a few hundred bytes.
MAX_BODY_BYTES = 128 * 1024

BODY_LIMITS: Mapping[str, int] = {
    "": MAX_BODY_BYTES,
    telegram_webhook.WEBHOOK_PATH: telegram_webhook.MAX_BODY_BYTES,
    zalo_webhooks.OA_WEBHOOK_PATH: zalo_webhooks.MAX_BODY_BYTES,
    zalo_webhooks.BOT_WEBHOOK_PATH: zalo_webhooks.MAX_BODY_BYTES,
}
"""Path prefix → the most bytes a body there may have; the longest matching prefix counts."""


def limit_for(limits: Mapping[str, int], path: str) -> int:
    """The limit of the longest prefix of `path` in `limits` ("" matches every path)."""
    return limits[max((prefix for prefix in limits if path.startswith(prefix)), key=len)]


class BodyLimit:
    """The middleware: see the module's description."""

    def __init__(self, app: ASGIApp, limits: Mapping[str, int] = BODY_LIMITS) -> None:
        if "" not in limits:
            raise ValueError("the body limits need a default (the prefix '')")
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(self.limits, scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: tell the route
                await self.app(scope, _replay(message, receive), send)
                return
            body += message.get("body", b"")
            if len(body) > limit:
                await self._refuse(scope, receive, send, limit)
                return
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": bytes(body), "more_body": False}
        await self.app(scope, _replay(whole, receive), send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response: Response
        if scope["path"].startswith(API_PREFIX + "/"):
            response = ApiProblem(
                "body-too-large", f"This request's body is over {limit:,} bytes."
            ).response(Request(scope))
        else:
            response = PlainTextResponse("request body too large\n", status_code=413)
        # Whatever the client still sends is not read: the connection cannot serve another request.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _replay(first: Message, receive: Receive) -> Receive:
    """`receive` with `first` given before anything else (the body already read)."""
    pending = [first]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed
