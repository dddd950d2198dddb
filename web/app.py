"""The web app factory: one FastAPI app composed of the routers each feature contributes."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Lifespan, Receive, Scope, Send

from web import telegram_webhook, zalo_webhooks
from web.body_limit import BODY_LIMITS, BodyLimit
from web.dashboard.paths import DASHBOARD_PREFIX
from web.forms import SecuredPages
from web.survey.paths import LANDING_PREFIX

__all__ = ["HEALTH_PATH", "WEBHOOK_PATHS", "create_app"]

HEALTH_PATH = "/healthz"

# The platforms' webhooks: every answer a citizen gives comes through one of them.
WEBHOOK_PATHS = (
    telegram_webhook.WEBHOOK_PATH,
    zalo_webhooks.OA_WEBHOOK_PATH,
    zalo_webhooks.BOT_WEBHOOK_PATH,
)


def create_app(
    routers: Sequence[APIRouter] = (),
    *,
    lifespan: Lifespan[FastAPI] | None = None,
    title: str = "sipas-bot",
    body_limits: Mapping[str, int] = BODY_LIMITS,
) -> FastAPI:
    """The app serving `routers` (webhooks, invitation API, dashboard) plus `GET /healthz`.

    Each feature builds its own router from what it needs; `bot.commands.serve`
    decides which are on. `lifespan` runs around the server's life (start-up and
    shutdown of whatever the routers depend on). Every request's body is bounded by
    `body_limits` (path prefix → bytes, `web.body_limit`) before any route sees it, and
    every answer under the pages' paths (the dashboard's, the citizens') carries the
    pages' security headers (`web.forms.SecuredPages`), a 413 or a framework's 404 too.
    A POST to one of the `WEBHOOK_PATHS` goes straight to its route's endpoint
    (`DirectWebhooks`), past FastAPI's routing.
    """
    app = FastAPI(title=title, lifespan=lifespan)
    # Innermost, so inside the body limit; the endpoints are checked here, not at the first request.
    app.add_middleware(DirectWebhooks, endpoints=webhook_endpoints(routers))
    app.add_middleware(BodyLimit, limits=body_limits)
    app.add_middleware(SecuredPages, prefixes=(DASHBOARD_PREFIX, LANDING_PREFIX))  # outermost
    app.include_router(_health_router())
    for router in routers:
        app.include_router(router)
    return app


def _health_router() -> APIRouter:
    router = APIRouter()

    @router.get(HEALTH_PATH, include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """Liveness for a load balancer or a process supervisor."""
        return {"status": "ok"}

    return router


Endpoint = Callable[[Request], Awaitable[Response]]


def webhook_endpoints(routers: Sequence[APIRouter]) -> dict[str, Endpoint]:
    """The endpoints of the routes taking POSTs at the `WEBHOOK_PATHS`, by path; ValueError
    for one that takes anything but the request (which `DirectWebhooks` could not give)."""
    endpoints: dict[str, Endpoint] = {}
    for router in routers:
        for route in router.routes:
            if (
                isinstance(route, APIRoute)
                and route.path in WEBHOOK_PATHS
                and "POST" in (route.methods or ())
            ):
                if len(inspect.signature(route.endpoint).parameters) != 1:
                    raise ValueError(
                        f"the webhook endpoint at {route.path} must take the request only"
                    )
                endpoints[route.path] = route.endpoint
    return endpoints


class DirectWebhooks:
    """Serves a POST to one of the `WEBHOOK_PATHS` by calling its route's endpoint itself.

    FastAPI's routing (matching the path against every route, solving the endpoint's
    dependencies, its exception handlers) cost a sixth of the server's CPU per update
    under load. A webhook's endpoint needs none of it: it takes the request only and
    answers every case with a response of its own. The routes stay registered, so other
    methods there get FastAPI's 405 as before.
    """

    def __init__(self, app: ASGIApp, endpoints: Mapping[str, Endpoint]) -> None:
        self.app = app
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = (
            self.endpoints.get(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        response = await endpoint(Request(scope, receive))
        await response(scope, receive, send)
