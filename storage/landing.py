"""What a QR code's landing page shows for a start payload, read without claiming anything.

The page is opened by whoever scans the code (and by link previewers), so reading it must
change nothing: a per-dossier invitation is claimed only when a survey starts, in the
channel the citizen chooses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from questionnaires.model import LocalizedText
from questionnaires.rounds import RoundPlan
from storage.invitations import (
    COUNTER_PREFIX,
    INVITATION_PREFIX,
    PAYLOAD_PATTERN,
    InvitationProblem,
    InvitationRefused,
    counter_short_code,
    find_invitation,
    invitation_status,
    parse_counter_payload,
    recover_credentials,
)
from storage.rounds import find_round_invitation, get_round, round_credentials
from storage.units import ServicePointListing, get_service_point_listing

__all__ = ["Landing", "RoundLanding", "landing_for", "round_landing_for"]

# Why an invitation that exists cannot be opened any more, by its status.
_CLOSED = {"completed": InvitationProblem.COMPLETED, "expired": InvitationProblem.EXPIRED}


@dataclass(frozen=True)
class Landing:
    """A counter or invitation that can start a survey: where, and the short code that names it
    on channels without start payloads (None: an invitation minted under another secret)."""

    payload: str
    listing: ServicePointListing
    short_code: str | None


async def landing_for(session: AsyncSession, secret: str, payload: str, now: datetime) -> Landing:
    """The counter (and short code) a payload names; InvitationRefused says why it cannot start.

    An invitation claimed by someone is still shown: only the channel it is opened in
    can tell whether that someone is this citizen coming back.
    """
    if not PAYLOAD_PATTERN.match(payload):
        raise InvitationRefused(InvitationProblem.MALFORMED)
    if payload.startswith(COUNTER_PREFIX):
        code = parse_counter_payload(secret, payload)
        short_code: str | None = counter_short_code(secret, code)
    elif payload.startswith(INVITATION_PREFIX):
        invitation = await find_invitation(session, secret, payload)
        if invitation is None:
            raise InvitationRefused(InvitationProblem.UNKNOWN)
        closed = _CLOSED.get(invitation_status(invitation, now))
        if closed is not None:
            raise InvitationRefused(closed)
        code = invitation.service_point_code
        credentials = recover_credentials(secret, invitation)
        short_code = credentials[1] if credentials is not None else None
    else:
        raise InvitationRefused(InvitationProblem.MALFORMED)
    listing = await get_service_point_listing(session, code)
    if listing is None:
        raise InvitationRefused(InvitationProblem.UNKNOWN)
    if not listing.point.active:
        raise InvitationRefused(InvitationProblem.INACTIVE)
    return Landing(payload, listing, short_code)


@dataclass(frozen=True)
class RoundLanding:
    """A survey round's invitation that can start its form: the round's title, the group it
    is for, and its short code."""

    payload: str
    title: LocalizedText
    group: LocalizedText
    short_code: str


async def round_landing_for(session: AsyncSession, secret: str, payload: str) -> RoundLanding:
    """The round and group a round invitation's payload names; InvitationRefused says why it
    cannot start: answered, or the round closed. (Outside the round's days, the start says so,
    in the deployment's time zone.)"""
    if not PAYLOAD_PATTERN.match(payload):
        raise InvitationRefused(InvitationProblem.MALFORMED)
    invitation = await find_round_invitation(session, secret, payload)
    survey_round = await get_round(session, invitation.round_code) if invitation else None
    if invitation is None or survey_round is None:
        raise InvitationRefused(InvitationProblem.UNKNOWN)
    if invitation.completed_at is not None:
        raise InvitationRefused(InvitationProblem.COMPLETED)
    if survey_round.closed_at is not None:
        raise InvitationRefused(InvitationProblem.ROUND_CLOSED)
    plan = RoundPlan.from_json(survey_round.plan)
    group = plan.group(invitation.group_code)
    return RoundLanding(
        payload, plan.title, group.label, round_credentials(secret, invitation.id)[1]
    )
