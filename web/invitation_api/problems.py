"""The invitation API's errors: `application/problem+json` (RFC 9457), one `type` per problem,
each a URI under `/api/v1/problems/` that resolves to what the problem means and what to do."""

# No `from __future__ import annotations`: FastAPI reads `describe_problem`'s annotations.

from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, ValidationError

from problems import ProblemsFound
from web.invitation_api.paths import API_PREFIX
from web.json_body import NotJson, json_of

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPES",
    "ApiProblem",
    "Problem",
    "ProblemDescription",
    "ProblemRoute",
    "ProblemType",
    "body_of",
    "problem_responses",
    "request_body_schema",
    "router",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"

ModelT = TypeVar("ModelT", bound=BaseModel)


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
            "body-too-large",
            413,
            "Request body too large",
            "An invitation request is a few hundred bytes of JSON: send the fields listed in "
            "the OpenAPI document and nothing else.",
        ),
        ProblemType(
            "invalid-json",
            400,
            "Body is not JSON",
            "Send one JSON object (UTF-8, `Content-Type: application/json`), nested a few "
            'levels at most, such as {"service_point": "HN-00004-01"}.',
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
            "unknown-dossier",
            404,
            "Unknown dossier",
            "No invitation was minted through your key's units for this dossier reference. "
            "Send the reference exactly as when the invitation was minted.",
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


def _validation_problem(issues: Sequence[Mapping[str, Any]], *within: str) -> ApiProblem:
    errors = [
        {
            "location": ".".join(str(part) for part in (*within, *issue.get("loc", ()))),
            "message": str(issue.get("msg", "invalid")),
            "type": str(issue.get("type", "invalid")),
        }
        for issue in issues
    ]
    first = errors[0] if errors else {"location": "body", "message": "invalid"}
    return ApiProblem(
        "invalid-request",
        f"{first['location']}: {first['message']} ({len(errors)} problem(s) in all). "
        'A valid body: {"service_point": "HN-00004-01", "dossier_ref": "000.00.01.H26-250101-0001"}.',
        extensions={"errors": errors},
    )


def field_problem(refused: ProblemsFound, *, entries: str | None = None) -> ApiProblem:
    """422 (`invalid-request`) for fields refused after the body parsed (an unknown authority,
    say), each named in `errors` as the framework names a malformed one. With `entries` (the
    name of the body's list, the problems' file), a problem's row is the index of the entry at
    fault."""
    return _validation_problem(
        [
            {
                "loc": (
                    (entries, problem.row, problem.column or "entry")
                    if entries is not None
                    else (problem.column or "body",)
                ),
                "msg": str(replace(problem, file=None, row=None)),
                "type": "value_error",
            }
            for problem in refused.problems
        ],
        "body",
    )


def body_of(model: type[ModelT], body: bytes) -> ModelT:
    """The request's JSON body as `model`; 400 (`invalid-json`) when it is not JSON or is
    nested too deeply, 422 (`invalid-request`) naming each field that is wrong.

    A route reads its body with this after checking the caller's key: a body, however
    hostile, is parsed only for a caller with a key (and it is small: `web.body_limit`).
    """
    try:
        value = json_of(body)
    except NotJson as error:
        raise ApiProblem("invalid-json", f"The body is not JSON ({error}).") from None
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise _validation_problem(error.errors(), "body") from None


def request_body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI `requestBody` of a route that reads its body with `body_of`."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


class ProblemRoute(APIRoute):
    """Answers this router's errors as problem+json, whatever handlers the app installs."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiProblem as problem:
                return problem.response(request)
            except RequestValidationError as error:
                return _validation_problem(error.errors()).response(request)

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


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    schema = Problem.model_json_schema()
    described = {
        400: "The body is not JSON, or is nested too deeply",
        401: "No API key, or a key unknown or revoked",
        403: "The service point is outside the key's scope",
        404: "Unknown service point, invitation or dossier",
        409: "Conflict: closed counter, dossier already answered or invited elsewhere",
        410: "The invitation was answered or has expired",
        413: "The request body is too large",
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


class ProblemDescription(BaseModel):
    """A problem type: what it means and what to do."""

    type: str
    status: int
    title: str
    advice: str


router = APIRouter(prefix=API_PREFIX, route_class=ProblemRoute)


@router.get(
    "/problems/{slug}",
    response_model=ProblemDescription,
    summary="What an error type means",
    responses=problem_responses(404),
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
