"""The invitation API's settings, and its routes' FastAPI dependencies: the API, the caller's
API key (checked, and counted against its rate limit), an invitation id."""

# No `from __future__ import annotations`: FastAPI reads these functions' annotations.

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from storage.api_keys import verify_api_key
from storage.db import Database
from storage.models import ApiKey
from storage.shared_limits import SharedRateLimiter
from web.invitation_api.problems import ApiProblem

__all__ = ["Api", "Authenticated", "InvitationApi", "InvitationId", "api_of", "authenticated"]


@dataclass(frozen=True, kw_only=True)
class InvitationApi:
    """What one invitation API serves: see `invitation_router`."""

    database: Database
    secret: str
    bot_username: str
    public_url: str | None
    default_ttl: timedelta
    rate_limit_per_minute: int
    limiter: SharedRateLimiter
    clock: Callable[[], datetime]
    monotonic: Callable[[], float]
    # Sends the result questions owed now; None: the next maintenance round sends them.
    send_result_follow_ups: Callable[[], Awaitable[None]] | None = None

    def bind(self, request: Request) -> None:
        """The dependency `invitation_router` puts before every route: the request is ours."""
        request.state.invitation_api = self


def api_of(request: Request) -> InvitationApi:
    """The API `InvitationApi.bind` bound this request to."""
    api = getattr(request.state, "invitation_api", None)
    if not isinstance(api, InvitationApi):
        raise TypeError("an invitation API route outside invitation_router: no API bound")
    return api


Api = Annotated[InvitationApi, Depends(api_of)]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    bearerFormat="sipas_…",
    description="An API key from `sipas apikey create`, as `Authorization: Bearer sipas_…`.",
)


async def authenticated(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)], api: Api
) -> ApiKey:
    """The live API key the request carries, within its rate limit (401 or 429 if not)."""
    if credentials is None:
        raise ApiProblem("missing-api-key", "The request has no `Authorization: Bearer` key.")
    async with api.database.transaction() as tx:
        api_key = await verify_api_key(tx, credentials.credentials, api.clock())
    if api_key is None:
        raise ApiProblem("invalid-api-key", "This API key is not valid.")
    wait = await api.limiter.acquire(api_key.id, api.monotonic())
    if wait is not None:
        raise ApiProblem(
            "rate-limited",
            f"Key {api_key.name!r} may make {api.rate_limit_per_minute} requests per minute.",
            headers={"Retry-After": str(wait)},
            extensions={"retry_after": wait},
        )
    return api_key


Authenticated = Annotated[ApiKey, Depends(authenticated)]
InvitationId = Annotated[str, Path(min_length=1, max_length=32, examples=["3f9c2a7d1b4e8f60"])]
