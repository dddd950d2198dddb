"""The invitation API's dossier volumes: the one-stop system reports how many dossiers each
counter received per day and authority, what coverage divides completed responses by."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

from fastapi import APIRouter, Request

from storage.api_keys import key_scope
from storage.volumes import (
    ReportedVolume,
    VolumesOutOfScope,
    VolumesRefused,
    check_volumes,
    record_volumes,
)
from web.invitation_api.bodies import VolumesRecorded, VolumesRequest
from web.invitation_api.deps import Api, Authenticated
from web.invitation_api.paths import API_PREFIX
from web.invitation_api.problems import (
    ApiProblem,
    ProblemRoute,
    body_of,
    field_problem,
    problem_responses,
    request_body_schema,
)

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, route_class=ProblemRoute)


@router.post(
    "/volumes",
    response_model=VolumesRecorded,
    summary="Report dossier volumes (all or nothing; a resend replaces)",
    responses=problem_responses(400, 401, 403, 413, 422, 429),
    openapi_extra=request_body_schema(VolumesRequest),
)
async def report_volumes(request: Request, api: Api, api_key: Authenticated) -> VolumesRecorded:
    """How many dossiers counters received, per day and competent authority: coverage is
    completed responses ÷ dossiers (`sipas coverage`, the dashboard).

    Every entry is checked before any is stored: one bad entry (an unknown counter or
    authority, the same counter, day and authority twice) refuses the whole body with 422
    naming each (`errors[].location` is `body.volumes.<index>.<field>`); an entry at a
    counter outside the key's scope refuses it with 403 (`entries` lists their indices).
    A figure for a counter, day and authority reported before replaces the earlier one.
    """
    body = body_of(VolumesRequest, await request.body())
    entries = [
        ReportedVolume(index, entry.service_point, entry.day, entry.authority, entry.dossiers)
        for index, entry in enumerate(body.volumes)
    ]
    async with api.database.transaction() as tx:
        try:
            volumes = await check_volumes(
                tx, entries, scope=await key_scope(tx, api_key), source="volumes"
            )
        except VolumesRefused as refused:
            raise field_problem(refused, entries="volumes") from None
        except VolumesOutOfScope as outside:
            rows = [problem.row for problem in outside.problems]
            raise ApiProblem(
                "out-of-scope",
                f"Key {api_key.name!r} covers {', '.join(api_key.unit_codes)} (units with those "
                f"below them, agencies with their counters); entries {rows} are at other "
                "counters. Nothing was stored.",
                extensions={"entries": rows},
            ) from None
        counts = await record_volumes(tx, volumes, api.clock())
    return VolumesRecorded(added=counts.added, updated=counts.updated, unchanged=counts.unchanged)
