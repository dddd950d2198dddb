"""The invitation API's router: the invitations, the problem descriptions, and problem+json
for any other path under `/api/v1`."""

# No `from __future__ import annotations`: FastAPI reads `no_such_endpoint`'s annotations.

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute
from starlette.routing import Match

from storage.db import Database
from storage.shared_limits import SharedRateLimiter
from web.invitation_api.deps import InvitationApi
from web.invitation_api.invitations import router as invitations
from web.invitation_api.paths import API_PREFIX
from web.invitation_api.problems import ApiProblem, ProblemRoute
from web.invitation_api.problems import router as problems
from web.invitation_api.volumes import router as volumes

__all__ = ["invitation_router"]

ANY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ENDPOINTS = (invitations, volumes, problems)  # the routers of the endpoints, in their order


def invitation_router(
    database: Database,
    *,
    secret: str,
    bot_username: str,
    public_url: str | None,
    default_ttl: timedelta,
    rate_limit_per_minute: int = 120,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    monotonic: Callable[[], float] = time.monotonic,
    send_result_follow_ups: Callable[[], Awaitable[None]] | None = None,
) -> APIRouter:
    """The `/api/v1` router: invitations, their QR codes, the results returned, and the
    problem descriptions.

    `public_url` (SIPAS_PUBLIC_URL) makes the QR image URLs absolute behind a proxy, and
    the QR codes open the invitation's landing page; without it the URLs are built from
    the request and the QR codes open Telegram. `send_result_follow_ups` sends the result
    questions a returned result makes owed, at once (else the next maintenance round
    does). `clock` and `monotonic` are for tests.
    """
    api = InvitationApi(
        database=database,
        secret=secret,
        bot_username=bot_username,
        public_url=public_url,
        default_ttl=default_ttl,
        rate_limit_per_minute=rate_limit_per_minute,
        limiter=SharedRateLimiter(database, "api-key", rate_limit_per_minute),
        clock=clock,
        monotonic=monotonic,
        send_result_follow_ups=send_result_follow_ups,
    )
    router = APIRouter(
        route_class=ProblemRoute, tags=["invitations"], dependencies=[Depends(api.bind)]
    )
    for endpoints in ENDPOINTS:
        router.include_router(endpoints)
    # Last, so it only sees what no route above took: a client of the API gets problem+json
    # for a mistyped path or method too, not the framework's bare {"detail": ...}.
    router.add_api_route(
        API_PREFIX + "/{path:path}",
        no_such_endpoint,
        methods=list(ANY_METHOD),
        include_in_schema=False,
    )
    return router


async def no_such_endpoint(request: Request, path: str) -> Response:
    """405 naming the allowed methods for a known path, else 404."""
    # A route matching the path but not the method is a PARTIAL match.
    allowed = sorted(
        method
        for endpoints in ENDPOINTS
        for route in endpoints.routes
        if isinstance(route, APIRoute) and route.matches(request.scope)[0] is Match.PARTIAL
        for method in route.methods or ()
    )
    if allowed:
        raise ApiProblem(
            "method-not-allowed",
            f"{request.method} is not allowed here; this path takes {', '.join(allowed)}.",
            headers={"Allow": ", ".join(allowed)},
        )
    hint = " (without the trailing slash?)" if request.url.path.endswith("/") else ""
    raise ApiProblem("unknown-endpoint", f"There is no endpoint {request.url.path}{hint}.")
