"""The web app factory: one FastAPI app composed of the routers each feature contributes."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from starlette.types import Lifespan

__all__ = ["HEALTH_PATH", "create_app"]

HEALTH_PATH = "/healthz"


def create_app(
    routers: Sequence[APIRouter] = (),
    *,
    lifespan: Lifespan[FastAPI] | None = None,
    title: str = "sipas-bot",
) -> FastAPI:
    """The app serving `routers` (webhooks, invitation API, dashboard) plus `GET /healthz`.

    Each feature builds its own router from what it needs; `bot.commands.serve`
    decides which are on. `lifespan` runs around the server's life (start-up and
    shutdown of whatever the routers depend on).
    """
    app = FastAPI(title=title, lifespan=lifespan)
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
