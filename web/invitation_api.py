"""The invitation API (`/api/v1`): one-stop information systems mint a single-use invitation per dossier.

    app.include_router(invitation_router(database, secret=..., bot_username=...,
                                         public_url=None, default_ttl=timedelta(hours=72)))

Design of the tokens. An invitation's payload and short code are never stored: they are
derived from its public id with the deployment secret (HMAC), and only their keyed hashes
are stored, as for every invitation. So the API can show the same payload again (the
same dossier asked twice, the QR image fetched later by id) with nothing recoverable
kept in the database; without the secret an id yields nothing. An invitation whose
hash no longer matches (the secret was rotated) is reported as not recoverable.

Errors are `application/problem+json` (RFC 9457); each `type` is a URI under
`/api/v1/problems/` that resolves to a description of the problem and what to do.
Rate limits are kept per key in this process's memory (see `storage.api_keys.RateLimiter`).
"""

# No `from __future__ import annotations`: FastAPI must resolve the endpoints' annotations,
# which name dependencies local to `invitation_router`.

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import Match

from storage.api_keys import RateLimiter, service_point_in_scope, verify_api_key
from storage.db import Database
from storage.invitations import (
    DossierAnswered,
    DossierElsewhere,
    InvitationNotRecoverable,
    invitation_status,
    issue_invitation,
    recover_credentials,
    telegram_link,
)
from storage.models import ApiKey, Invitation, ServicePoint
from storage.units import get_service_point
from web.posters import qr_png, qr_svg

__all__ = ["API_PREFIX", "invitation_router"]

API_PREFIX = "/api/v1"
MAX_TTL_HOURS = 24 * 365
PROBLEM_MEDIA_TYPE = "application/problem+json"
ANY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


# --- Problems (RFC 9457) -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemType:
    """A kind of error the API returns: its status, title and what a developer should do."""

    slug: str
    status: int
    title: str
    advice: str

    @property
    def uri(self) -> str:
        return f"{API_PREFIX}/problems/{self.slug}"


PROBLEM_TYPES = {
    problem.slug: problem
    for problem in (
        ProblemType(
            "missing-api-key",
            401,
            "No API key",
            "Send the key in the header `Authorization: Bearer sipas_…`. "
            "An operator creates one with `sipas apikey create --name NAME --units CODE`.",
        ),
        ProblemType(
            "invalid-api-key",
            401,
            "API key not valid",
            "The key is unknown or revoked. Check that the whole key was copied "
            "(it starts with sipas_), or ask the operator for a new one.",
        ),
        ProblemType(
            "out-of-scope",
            403,
            "Outside this key's scope",
            "A key acts only on the service points of its units and the units below them. "
            "Use a key for that unit, or ask the operator to create one.",
        ),
        ProblemType(
            "rate-limited",
            429,
            "Too many requests",
            "Wait the number of seconds in the Retry-After header, then retry.",
        ),
        ProblemType(
            "invalid-request",
            422,
            "Invalid request",
            "Fix the fields listed in `errors` (location and message) and send the request again.",
        ),
        ProblemType(
            "unknown-service-point",
            404,
            "Unknown service point",
            "Use the code of a service point (counter) as listed by `sipas units points`, "
            "e.g. HN-00004-01; codes are upper case.",
        ),
        ProblemType(
            "inactive-service-point",
            409,
            "Service point closed",
            "This counter no longer takes surveys. Use the code of an active counter.",
        ),
        ProblemType(
            "dossier-answered",
            409,
            "Dossier already answered",
            "One transaction gives at most one response: do not print a new invitation.",
        ),
        ProblemType(
            "dossier-elsewhere",
            409,
            "Dossier invited at another counter",
            "The dossier has an open invitation at another service point: use that one "
            "(see `invitation_id`), or wait until it expires.",
        ),
        ProblemType(
            "unknown-invitation",
            404,
            "Unknown invitation",
            "Use the `id` returned when the invitation was created.",
        ),
        ProblemType(
            "invitation-not-recoverable",
            409,
            "Invitation cannot be shown again",
            "This invitation was minted outside the API and its payload was shown only once. "
            "Mint a new invitation through the API.",
        ),
        ProblemType(
            "unknown-problem-type",
            404,
            "Unknown problem type",
            "The problem types are listed in the OpenAPI document (`Problem`).",
        ),
        ProblemType(
            "unknown-endpoint",
            404,
            "No such endpoint",
            "The endpoints are listed in the OpenAPI document at /openapi.json and /docs.",
        ),
        ProblemType(
            "method-not-allowed",
            405,
            "Method not allowed",
            "Use one of the methods in the Allow header (see /docs).",
        ),
        ProblemType(
            "invitation-closed",
            410,
            "Invitation no longer usable",
            "The invitation was answered or has expired, so its QR code is of no use. "
            "For a dossier not yet answered, POST it again to get a fresh invitation.",
        ),
    )
}


class ApiProblem(Exception):
    """An error to answer as problem+json."""

    def __init__(
        self,
        slug: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.problem_type = PROBLEM_TYPES[slug]
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions or {}

    def response(self, request: Request) -> JSONResponse:
        kind = self.problem_type
        body: dict[str, Any] = {
            "type": kind.uri,
            "title": kind.title,
            "status": kind.status,
            "detail": f"{self.detail} {kind.advice}",
            "instance": request.url.path,
            **self.extensions,
        }
        headers = dict(self.headers)
        if kind.status == 401:
            headers.setdefault("WWW-Authenticate", 'Bearer realm="sipas"')
        return JSONResponse(body, kind.status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def _validation_problem(error: RequestValidationError) -> ApiProblem:
    errors = [
        {
            "location": ".".join(str(part) for part in issue.get("loc", ())),
            "message": str(issue.get("msg", "invalid")),
            "type": str(issue.get("type", "invalid")),
        }
        for issue in error.errors()
    ]
    first = errors[0] if errors else {"location": "body", "message": "invalid"}
    return ApiProblem(
        "invalid-request",
        f"{first['location']}: {first['message']} ({len(errors)} problem(s) in all). "
        'A valid body: {"service_point": "HN-00004-01", "dossier_ref": "000.00.01.H26-250101-0001"}.',
        extensions={"errors": errors},
    )


class _ProblemRoute(APIRoute):
    """Answers this router's errors as problem+json, whatever handlers the app installs."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiProblem as problem:
                return problem.response(request)
            except RequestValidationError as error:
                return _validation_problem(error).response(request)

        return handle


class Problem(BaseModel):
    """An error (RFC 9457); `detail` says what happened and what to do."""

    type: str = Field(examples=[f"{API_PREFIX}/problems/unknown-service-point"])
    title: str
    status: int
    detail: str
    instance: str
    errors: list[dict[str, str]] | None = Field(
        None, description="invalid-request only: each invalid field's location and message"
    )
    retry_after: int | None = Field(None, description="rate-limited only: seconds to wait")
    invitation_id: str | None = Field(None, description="dossier problems: the invitation")


def _problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    schema = Problem.model_json_schema()
    described = {
        401: "No API key, or a key unknown or revoked",
        403: "The service point is outside the key's scope",
        404: "Unknown service point or invitation",
        409: "Conflict: closed counter, dossier already answered or invited elsewhere",
        410: "The invitation was answered or has expired",
        422: "Invalid request body (see `errors`)",
        429: "Rate limit exceeded (see the Retry-After header)",
    }
    return {
        status: {
            "description": described[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}},
        }
        for status in statuses
    }


# --- Request and response bodies -----------------------------------------------------------------


class InvitationRequest(BaseModel):
    """What to invite: a counter, and optionally the dossier whose transaction it was."""

    model_config = ConfigDict(extra="forbid")

    service_point: str = Field(
        min_length=1,
        max_length=32,
        pattern=r"^[A-Z0-9-]+$",
        description="The service point (counter) code, as listed by `sipas units points`.",
        examples=["HN-00004-01"],
    )
    dossier_ref: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="The dossier (hồ sơ) reference. Stored only as a keyed hash. The same "
        "dossier again returns the same open invitation; an answered dossier gets 409.",
        examples=["000.00.01.H26-250101-0001"],
    )
    ttl_hours: int | None = Field(
        None,
        ge=1,
        le=MAX_TTL_HOURS,
        description="Hours until the invitation expires (default: the deployment's setting).",
    )


InvitationStatus = Literal["open", "claimed", "completed", "expired"]


class InvitationOut(BaseModel):
    """An invitation: how a citizen opens it, and where it stands."""

    id: str = Field(examples=["3f9c2a7d1b4e8f60"])
    service_point: str
    status: InvitationStatus = Field(
        description="open: not yet used; claimed: a respondent started it; completed: "
        "answered; expired: past `expires_at` unanswered"
    )
    payload: str | None = Field(description="The Telegram start payload (null: not recoverable)")
    short_code: str | None = Field(description="What to send on Zalo instead of scanning")
    telegram_link: str | None = Field(description="The deep link the QR code carries")
    qr_png_url: str
    qr_svg_url: str
    has_dossier: bool
    created_at: datetime
    expires_at: datetime
    claimed_at: datetime | None
    completed_at: datetime | None


def _status(invitation: Invitation, now: datetime) -> InvitationStatus:
    status = invitation_status(invitation, now)
    assert status in ("open", "claimed", "completed", "expired")
    return status  # type: ignore[return-value]


class ProblemDescription(BaseModel):
    """A problem type: what it means and what to do."""

    type: str
    status: int
    title: str
    advice: str


# --- The router -----------------------------------------------------------------------------------


async def _in_scope(session: AsyncSession, api_key: ApiKey, invitation: Invitation) -> bool:
    """Whether this key may see another invitation of the same dossier."""
    point = await session.get(ServicePoint, invitation.service_point_code)
    return point is not None and await service_point_in_scope(session, api_key, point)


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
) -> APIRouter:
    """The `/api/v1` router: invitations, their QR codes, and the problem descriptions.

    `public_url` (SIPAS_PUBLIC_URL) makes the QR image URLs absolute behind a proxy;
    without it they are built from the request. `clock` and `monotonic` are for tests.
    """
    router = APIRouter(prefix=API_PREFIX, route_class=_ProblemRoute, tags=["invitations"])
    bearer = HTTPBearer(
        auto_error=False,
        scheme_name="ApiKey",
        bearerFormat="sipas_…",
        description="An API key from `sipas apikey create`, as `Authorization: Bearer sipas_…`.",
    )
    limiter = RateLimiter(rate_limit_per_minute)

    async def authenticate(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> ApiKey:
        if credentials is None:
            raise ApiProblem("missing-api-key", "The request has no `Authorization: Bearer` key.")
        async with database.transaction() as tx:
            api_key = await verify_api_key(tx, credentials.credentials, clock())
        if api_key is None:
            raise ApiProblem("invalid-api-key", "This API key is not valid.")
        wait = limiter.acquire(api_key.id, monotonic())
        if wait is not None:
            raise ApiProblem(
                "rate-limited",
                f"Key {api_key.name!r} may make {rate_limit_per_minute} requests per minute.",
                headers={"Retry-After": str(wait)},
                extensions={"retry_after": wait},
            )
        return api_key

    Authenticated = Annotated[ApiKey, Depends(authenticate)]
    InvitationId = Annotated[str, Path(min_length=1, max_length=32, examples=["3f9c2a7d1b4e8f60"])]

    async def check_scope(tx: AsyncSession, api_key: ApiKey, point: ServicePoint) -> None:
        if not await service_point_in_scope(tx, api_key, point):
            of_agency = f" and agency {point.agency_code}" if point.agency_code else ""
            raise ApiProblem(
                "out-of-scope",
                f"Key {api_key.name!r} covers {', '.join(api_key.unit_codes)} (units with those "
                f"below them, agencies with their counters); service point {point.code} "
                f"belongs to unit {point.unit_code}{of_agency}.",
            )

    def absolute(request: Request, name: str, invitation_id: str) -> str:
        if public_url:
            return public_url + str(request.app.url_path_for(name, invitation_id=invitation_id))
        return str(request.url_for(name, invitation_id=invitation_id))

    def view(request: Request, invitation: Invitation) -> InvitationOut:
        credentials = recover_credentials(secret, invitation)
        payload, short_code = credentials if credentials else (None, None)
        return InvitationOut(
            id=invitation.id,
            service_point=invitation.service_point_code,
            status=_status(invitation, clock()),
            payload=payload,
            short_code=short_code,
            telegram_link=telegram_link(bot_username, payload) if payload else None,
            qr_png_url=absolute(request, "invitation_qr_png", invitation.id),
            qr_svg_url=absolute(request, "invitation_qr_svg", invitation.id),
            has_dossier=invitation.dossier_hash is not None,
            created_at=invitation.created_at,
            expires_at=invitation.expires_at,
            claimed_at=invitation.claimed_at,
            completed_at=invitation.completed_at,
        )

    async def load(tx: AsyncSession, api_key: ApiKey, invitation_id: str) -> Invitation:
        invitation = await tx.get(Invitation, invitation_id)
        if invitation is None:
            raise ApiProblem("unknown-invitation", f"There is no invitation {invitation_id!r}.")
        point = await get_service_point(tx, invitation.service_point_code)
        assert point is not None  # a foreign key guarantees it
        await check_scope(tx, api_key, point)
        return invitation

    @router.post(
        "/invitations",
        status_code=201,
        response_model=InvitationOut,
        summary="Mint an invitation (idempotent per dossier)",
        responses={
            200: {
                "description": "The dossier's open invitation, returned again",
                "model": InvitationOut,
            },
            **_problem_responses(401, 403, 404, 409, 422, 429),
        },
    )
    async def create_invitation(
        body: InvitationRequest, request: Request, response: Response, api_key: Authenticated
    ) -> InvitationOut:
        """A single-use invitation for one transaction at a counter.

        Returns 201 with a new invitation, or 200 with the dossier's open invitation
        when the same `dossier_ref` is sent again for the same counter. Show
        `telegram_link` as a QR code (or fetch `qr_png_url`), and print `short_code`
        for Zalo users.
        """
        now = clock()
        ttl = timedelta(hours=body.ttl_hours) if body.ttl_hours else default_ttl
        async with database.transaction() as tx:
            point = await get_service_point(tx, body.service_point)
            if point is None:
                raise ApiProblem(
                    "unknown-service-point", f"There is no service point {body.service_point!r}."
                )
            await check_scope(tx, api_key, point)
            if not point.active:
                raise ApiProblem("inactive-service-point", f"Service point {point.code} is closed.")
            try:
                issued = await issue_invitation(
                    tx,
                    secret,
                    service_point_code=point.code,
                    now=now,
                    ttl=ttl,
                    dossier_ref=body.dossier_ref,
                    api_key_id=api_key.id,
                )
            except DossierAnswered as answered:
                if not await _in_scope(tx, api_key, answered.invitation):
                    raise ApiProblem("dossier-answered", "This dossier was answered.") from None
                raise ApiProblem(
                    "dossier-answered",
                    f"This dossier was answered at {answered.invitation.completed_at:%Y-%m-%dT%H:%MZ} "
                    f"(invitation {answered.invitation.id}).",
                    extensions={"invitation_id": answered.invitation.id},
                ) from None
            except DossierElsewhere as elsewhere:
                other = elsewhere.invitation
                if not await _in_scope(tx, api_key, other):
                    # Another system's invitation: say that it exists, not what or where it is.
                    raise ApiProblem(
                        "dossier-elsewhere",
                        "This dossier has an open invitation at a service point outside your key's units.",
                    ) from None
                raise ApiProblem(
                    "dossier-elsewhere",
                    f"This dossier has invitation {other.id} at service point "
                    f"{other.service_point_code}, open until {other.expires_at:%Y-%m-%dT%H:%MZ}.",
                    extensions={"invitation_id": other.id},
                ) from None
            except InvitationNotRecoverable as lost:
                raise ApiProblem(
                    "invitation-not-recoverable",
                    f"This dossier's open invitation {lost.invitation.id} was minted outside the API.",
                    extensions={"invitation_id": lost.invitation.id},
                ) from None
        if not issued.created:
            response.status_code = 200
        response.headers["Location"] = str(
            request.app.url_path_for("get_invitation", invitation_id=issued.invitation.id)
        )
        return view(request, issued.invitation)

    @router.get(
        "/invitations/{invitation_id}",
        response_model=InvitationOut,
        summary="An invitation and its status",
        responses=_problem_responses(401, 403, 404, 429),
    )
    async def get_invitation(
        invitation_id: InvitationId, request: Request, api_key: Authenticated
    ) -> InvitationOut:
        """The invitation: status open, claimed, completed or expired."""
        async with database.reading() as tx:
            invitation = await load(tx, api_key, invitation_id)
        return view(request, invitation)

    async def qr_link(api_key: ApiKey, invitation_id: str) -> str:
        async with database.reading() as tx:
            invitation = await load(tx, api_key, invitation_id)
        status = invitation_status(invitation, clock())
        if status in ("completed", "expired"):
            raise ApiProblem("invitation-closed", f"Invitation {invitation_id} is {status}.")
        credentials = recover_credentials(secret, invitation)
        if credentials is None:
            raise ApiProblem(
                "invitation-not-recoverable",
                f"Invitation {invitation_id} was minted outside the API.",
            )
        return telegram_link(bot_username, credentials[0])

    qr_headers = {"Cache-Control": "no-store"}  # the image carries a live single-use token

    @router.get(
        "/invitations/{invitation_id}/qr.png",
        name="invitation_qr_png",
        summary="The invitation's QR code as PNG",
        response_class=Response,
        responses={
            200: {"description": "A black-and-white PNG", "content": {"image/png": {}}},
            **_problem_responses(401, 403, 404, 409, 410, 429),
        },
    )
    async def invitation_qr_png(
        invitation_id: InvitationId,
        api_key: Authenticated,
        scale: Annotated[int, Query(ge=2, le=40)] = 8,
    ) -> Response:
        """The QR code of the invitation's Telegram link (`scale` pixels per module)."""
        link = await qr_link(api_key, invitation_id)
        return Response(qr_png(link, scale=scale), media_type="image/png", headers=qr_headers)

    @router.get(
        "/invitations/{invitation_id}/qr.svg",
        name="invitation_qr_svg",
        summary="The invitation's QR code as SVG",
        response_class=Response,
        responses={
            200: {"description": "An SVG image", "content": {"image/svg+xml": {}}},
            **_problem_responses(401, 403, 404, 409, 410, 429),
        },
    )
    async def invitation_qr_svg(invitation_id: InvitationId, api_key: Authenticated) -> Response:
        """The QR code of the invitation's Telegram link, for a counter screen or a printer."""
        link = await qr_link(api_key, invitation_id)
        return Response(qr_svg(link), media_type="image/svg+xml", headers=qr_headers)

    @router.get(
        "/problems/{slug}",
        response_model=ProblemDescription,
        summary="What an error type means",
        responses=_problem_responses(404),
    )
    async def describe_problem(slug: str) -> ProblemDescription:
        """The description of a problem `type` this API returns."""
        kind = PROBLEM_TYPES.get(slug)
        if kind is None:
            raise ApiProblem(
                "unknown-problem-type",
                f"There is no problem type {slug!r}; known: {', '.join(PROBLEM_TYPES)}.",
            )
        return ProblemDescription(
            type=kind.uri, status=kind.status, title=kind.title, advice=kind.advice
        )

    # Last, so it only sees what no route above took: a client of the API gets problem+json
    # for a mistyped path or method too, not the framework's bare {"detail": ...}.
    @router.api_route("/{path:path}", methods=list(ANY_METHOD), include_in_schema=False)
    async def no_such_endpoint(request: Request, path: str) -> Response:
        # A route matching the path but not the method is a PARTIAL match.
        allowed = sorted(
            method
            for route in router.routes
            if isinstance(route, APIRoute)
            and route.endpoint is not no_such_endpoint
            and route.matches(request.scope)[0] is Match.PARTIAL
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

    return router
