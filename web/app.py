"""The web app factory: one FastAPI app composed of the routers each feature contributes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fastapi import APIRouter, FastAPI
from starlette.types import Lifespan

from web.body_limit import BODY_LIMITS, BodyLimit
from web.dashboard.paths import DASHBOARD_PREFIX
from web.forms import SecuredPages
from web.survey.paths import LANDING_PREFIX

__all__ = ["HEALTH_PATH", "create_app"]

HEALTH_PATH = "/healthz"


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
    """
    app = FastAPI(title=title, lifespan=lifespan)
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
