"""The invitation API's invitations: mint one (idempotent per dossier), read it, its QR code as
PNG or SVG, and the notice that its dossier's result was returned."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from storage.api_keys import invitation_in_scope, service_point_in_scope
from storage.invitations import (
    DossierAnswered,
    DossierElsewhere,
    InvitationNotRecoverable,
    IssuedInvitation,
    invitation_by_id,
    invitation_status,
    invitations_of_dossier,
    issue_invitation,
    recover_credentials,
    telegram_link,
)
from storage.models import ApiKey, Invitation, ServicePoint
from storage.procedures import AttributionRefused, load_attributions
from storage.result_follow_ups import mark_due
from storage.units import get_service_point
from web.invitation_api.bodies import (
    InvitationOut,
    InvitationRequest,
    InvitationStatus,
    ResultReturned,
    ResultReturnedRequest,
)
from web.invitation_api.deps import Api, Authenticated, InvitationApi, InvitationId
from web.invitation_api.paths import API_PREFIX
from web.invitation_api.problems import (
    ApiProblem,
    ProblemRoute,
    body_of,
    field_problem,
    problem_responses,
    request_body_schema,
)
from web.posters import qr_png, qr_svg
from web.survey.paths import landing_link, qr_target

__all__ = ["router"]

log = logging.getLogger(__name__)

QR_HEADERS = {"Cache-Control": "no-store"}  # the image carries a live single-use token

router = APIRouter(prefix=API_PREFIX, route_class=ProblemRoute)


def _out_of_scope(api_key: ApiKey, point: ServicePoint) -> ApiProblem:
    of_agency = f" and agency {point.agency_code}" if point.agency_code else ""
    return ApiProblem(
        "out-of-scope",
        f"Key {api_key.name!r} covers {', '.join(api_key.unit_codes)} (units with those "
        f"below them, agencies with their counters); service point {point.code} "
        f"belongs to unit {point.unit_code}{of_agency}.",
    )


def _answered(invitation: Invitation) -> ApiProblem:
    return ApiProblem(
        "dossier-answered",
        f"This dossier was answered at {invitation.completed_at:%Y-%m-%dT%H:%MZ} "
        f"(invitation {invitation.id}).",
        extensions={"invitation_id": invitation.id},
    )


def _elsewhere(invitation: Invitation) -> ApiProblem:
    return ApiProblem(
        "dossier-elsewhere",
        f"This dossier has invitation {invitation.id} at service point "
        f"{invitation.service_point_code}, open until {invitation.expires_at:%Y-%m-%dT%H:%MZ}.",
        extensions={"invitation_id": invitation.id},
    )


def _status(invitation: Invitation, api: InvitationApi) -> InvitationStatus:
    status = invitation_status(invitation, api.clock())
    assert status in ("open", "claimed", "completed", "expired")
    return status  # type: ignore[return-value]


def _absolute(api: InvitationApi, request: Request, name: str, invitation_id: str) -> str:
    if api.public_url:
        return api.public_url + str(request.app.url_path_for(name, invitation_id=invitation_id))
    return str(request.url_for(name, invitation_id=invitation_id))


def _view(api: InvitationApi, request: Request, invitation: Invitation) -> InvitationOut:
    credentials = recover_credentials(api.secret, invitation)
    payload, short_code = credentials if credentials else (None, None)
    return InvitationOut(
        id=invitation.id,
        service_point=invitation.service_point_code,
        status=_status(invitation, api),
        payload=payload,
        short_code=short_code,
        telegram_link=telegram_link(api.bot_username, payload) if payload else None,
        landing_url=(landing_link(api.public_url, payload) if payload and api.public_url else None),
        qr_png_url=_absolute(api, request, "invitation_qr_png", invitation.id),
        qr_svg_url=_absolute(api, request, "invitation_qr_svg", invitation.id),
        has_dossier=invitation.dossier_hash is not None,
        stage=invitation.stage,
        procedure_code=invitation.procedure_code,
        authority=invitation.authority_code,
        submitted_via=invitation.submitted_via,
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
        claimed_at=invitation.claimed_at,
        completed_at=invitation.completed_at,
    )


async def _issue(api: InvitationApi, api_key: ApiKey, body: InvitationRequest) -> IssuedInvitation:
    """The invitation the body asks for, or the problem that stops it."""
    ttl = timedelta(hours=body.ttl_hours) if body.ttl_hours else api.default_ttl
    async with api.database.transaction() as tx:
        point = await get_service_point(tx, body.service_point)
        if point is None:
            raise ApiProblem(
                "unknown-service-point", f"There is no service point {body.service_point!r}."
            )
        if not await service_point_in_scope(tx, api_key, point):
            raise _out_of_scope(api_key, point)
        if not point.active:
            raise ApiProblem("inactive-service-point", f"Service point {point.code} is closed.")
        try:
            attribution = (await load_attributions(tx)).resolve(
                point,
                procedure_code=body.procedure_code,
                authority=body.authority,
                submitted_via=body.submitted_via,
            )
        except AttributionRefused as refused:
            raise field_problem(refused) from None
        try:
            return await issue_invitation(
                tx,
                api.secret,
                service_point_code=point.code,
                now=api.clock(),
                ttl=ttl,
                dossier_ref=body.dossier_ref,
                api_key=api_key,
                stage=body.stage,
                attribution=attribution,
            )
        # Only invitations at counters in the key's scope are ever reported (see
        # `issue_invitation`): what they are and where is the key's to know.
        except DossierAnswered as answered:
            raise _answered(answered.invitation) from None
        except DossierElsewhere as elsewhere:
            raise _elsewhere(elsewhere.invitation) from None
        except InvitationNotRecoverable as lost:
            raise ApiProblem(
                "invitation-not-recoverable",
                f"This dossier's open invitation {lost.invitation.id} was minted outside the API.",
                extensions={"invitation_id": lost.invitation.id},
            ) from None


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
        **problem_responses(400, 401, 403, 404, 409, 413, 422, 429),
    },
    openapi_extra=request_body_schema(InvitationRequest),
)
async def create_invitation(
    request: Request, response: Response, api: Api, api_key: Authenticated
) -> InvitationOut:
    """A single-use invitation for one transaction at a counter, at one of the dossier's two
    moments (`stage`): `reception` (default) or `result`, when the result is returned.

    Returns 201 with a new invitation, or 200 with the dossier's open invitation
    when the same `dossier_ref` is sent again for the same counter (and stage). Show
    the QR code of `qr_png_url` (it carries `landing_url`, or `telegram_link` without
    a public URL), and print `short_code` for Zalo users.
    """
    # The body is read here, after the key was checked (`Authenticated`), not by the
    # framework before: without a key, nothing of it is parsed.
    body = body_of(InvitationRequest, await request.body())
    issued = await _issue(api, api_key, body)
    if not issued.created:
        response.status_code = 200
    response.headers["Location"] = str(
        request.app.url_path_for("get_invitation", invitation_id=issued.invitation.id)
    )
    return _view(api, request, issued.invitation)


async def _visible(api: InvitationApi, api_key: ApiKey, invitation_id: str) -> Invitation:
    """The invitation with this id, if the key may see it."""
    async with api.database.reading() as tx:
        invitation = await invitation_by_id(tx, invitation_id)
        if invitation is None:
            raise ApiProblem("unknown-invitation", f"There is no invitation {invitation_id!r}.")
        point = await get_service_point(tx, invitation.service_point_code)
        assert point is not None  # a foreign key guarantees it
        if not await service_point_in_scope(tx, api_key, point):
            raise _out_of_scope(api_key, point)
    return invitation


@router.get(
    "/invitations/{invitation_id}",
    response_model=InvitationOut,
    summary="An invitation and its status",
    responses=problem_responses(401, 403, 404, 429),
)
async def get_invitation(
    invitation_id: InvitationId, request: Request, api: Api, api_key: Authenticated
) -> InvitationOut:
    """The invitation: status open, claimed, completed or expired."""
    return _view(api, request, await _visible(api, api_key, invitation_id))


async def _qr_link(api: InvitationApi, api_key: ApiKey, invitation_id: str) -> str:
    """The link an open invitation's QR code carries: its landing page when the service has
    a public URL, else its Telegram link."""
    invitation = await _visible(api, api_key, invitation_id)
    status = invitation_status(invitation, api.clock())
    if status in ("completed", "expired"):
        raise ApiProblem("invitation-closed", f"Invitation {invitation_id} is {status}.")
    credentials = recover_credentials(api.secret, invitation)
    if credentials is None:
        raise ApiProblem(
            "invitation-not-recoverable",
            f"Invitation {invitation_id} was minted outside the API.",
        )
    return qr_target(api.public_url, api.bot_username, credentials[0])


@router.get(
    "/invitations/{invitation_id}/qr.png",
    name="invitation_qr_png",
    summary="The invitation's QR code as PNG",
    response_class=Response,
    responses={
        200: {"description": "A black-and-white PNG", "content": {"image/png": {}}},
        **problem_responses(401, 403, 404, 409, 410, 429),
    },
)
async def invitation_qr_png(
    invitation_id: InvitationId,
    api: Api,
    api_key: Authenticated,
    scale: Annotated[int, Query(ge=2, le=40)] = 8,
) -> Response:
    """The QR code of the invitation's link (`scale` pixels per module): its landing page
    when the service has a public URL, else its Telegram link."""
    link = await _qr_link(api, api_key, invitation_id)
    return Response(qr_png(link, scale=scale), media_type="image/png", headers=QR_HEADERS)


@router.get(
    "/invitations/{invitation_id}/qr.svg",
    name="invitation_qr_svg",
    summary="The invitation's QR code as SVG",
    response_class=Response,
    responses={
        200: {"description": "An SVG image", "content": {"image/svg+xml": {}}},
        **problem_responses(401, 403, 404, 409, 410, 429),
    },
)
async def invitation_qr_svg(
    invitation_id: InvitationId, api: Api, api_key: Authenticated
) -> Response:
    """The QR code of the invitation's link, for a counter screen or a printer."""
    link = await _qr_link(api, api_key, invitation_id)
    return Response(qr_svg(link), media_type="image/svg+xml", headers=QR_HEADERS)


async def _result_returned(
    api: InvitationApi, invitation: Invitation, invitations: list[Invitation]
) -> ResultReturned:
    """Mark the follow-ups of `invitations` owed, then have them sent (or leave it to the next
    maintenance round); the answer names `invitation`."""
    now = api.clock()
    async with api.database.transaction() as tx:
        await mark_due(tx, [each.id for each in invitations], now)
    if api.send_result_follow_ups is not None:
        try:
            await api.send_result_follow_ups()
        except Exception:  # the notice is taken; the maintenance round sends what is owed
            log.exception("result follow-ups not sent now; the maintenance round retries")
    return ResultReturned(
        invitation_id=invitation.id,
        status=_status(invitation, api),
        result_returned_at=now,
    )


@router.post(
    "/invitations/{invitation_id}/result-returned",
    status_code=202,
    response_model=ResultReturned,
    summary="The invitation's dossier has its result returned",
    responses=problem_responses(401, 404, 429),
)
async def invitation_result_returned(
    invitation_id: InvitationId, api: Api, api_key: Authenticated
) -> ResultReturned:
    """Tell the bot that the result of this invitation's dossier was returned (granted or
    refused).

    If the respondent, at reception, had not received the result and agreed to be asked
    about it once, the bot now sends them the result questions in the same chat, and their
    answers join the same response. Nothing is sent otherwise, and the answer does not say
    which: 202 either way. Calling it again changes nothing. An invitation outside the
    key's units is answered as unknown.
    """
    async with api.database.reading() as tx:
        invitation = await invitation_by_id(tx, invitation_id)
        # Another system's invitation: the same answer as one that does not exist.
        if invitation is None or not await invitation_in_scope(tx, api_key, invitation):
            raise ApiProblem("unknown-invitation", f"There is no invitation {invitation_id!r}.")
    return await _result_returned(api, invitation, [invitation])


@router.post(
    "/result-returned",
    status_code=202,
    response_model=ResultReturned,
    summary="A dossier has its result returned (by dossier reference)",
    responses=problem_responses(400, 401, 404, 413, 422, 429),
    openapi_extra=request_body_schema(ResultReturnedRequest),
)
async def dossier_result_returned(
    request: Request, api: Api, api_key: Authenticated
) -> ResultReturned:
    """`/invitations/{id}/result-returned` for a system that kept the dossier reference, not
    the invitation id: the dossier's invitations minted through the key's units are looked
    up by the reference's keyed hash. A dossier with none there is answered as unknown.
    """
    body = body_of(ResultReturnedRequest, await request.body())
    async with api.database.reading() as tx:
        invitations = [
            invitation
            for invitation in await invitations_of_dossier(tx, api.secret, body.dossier_ref)
            if await invitation_in_scope(tx, api_key, invitation)
        ]
    if not invitations:
        raise ApiProblem(
            "unknown-dossier", "This dossier has no invitation within your key's units."
        )
    answered = [invitation for invitation in invitations if invitation.completed_at is not None]
    return await _result_returned(api, (answered or invitations)[0], invitations)
