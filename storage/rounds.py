"""Survey rounds in the database: rounds, their groups' single-use invitations, progress, completed answers.

A round invitation's payload is `r_` and 22 characters, its short code 8 characters of the
invitations' alphabet, both derived from its id with the secret; only their keyed hashes are
stored, and nothing of whom a code was given to. The respondent who opens one is bound to it
(by their respondent key, a keyed hash), so it is answered once and by one account.
"""

from __future__ import annotations

import base64
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from questionnaires.model import split_repeat
from storage.db import Transaction
from storage.invitations import (
    INVITATION_ID_BYTES,
    SHORT_CODE_ALPHABET,
    SHORT_CODE_LENGTH,
    InvitationProblem,
    InvitationRefused,
    normalise_short_code,
)
from storage.models import Answer, RoundInvitation, SurveyRound, SurveySession
from storage.privacy import keyed_hash

ROUND_PREFIX = "r_"


class RoundExists(Exception):
    """A round with this code was created before."""


def round_credentials(secret: str, invitation_id: str) -> tuple[str, str]:
    """The payload (`r_` + 22 characters) and short code of a round invitation, from its id."""
    digest = bytes.fromhex(keyed_hash(secret, "round-invitation-token", invitation_id))
    payload = ROUND_PREFIX + base64.urlsafe_b64encode(digest).decode()[:22]
    digest = bytes.fromhex(keyed_hash(secret, "round-invitation-short-code", invitation_id))
    short_code = "".join(
        SHORT_CODE_ALPHABET[byte % len(SHORT_CODE_ALPHABET)] for byte in digest[:SHORT_CODE_LENGTH]
    )
    return payload, short_code


async def add_round(
    tx: Transaction,
    *,
    code: str,
    plan: dict[str, Any],
    questionnaire_id: str,
    questionnaire_version: str,
    questionnaire_source: str,
    opens_on: date,
    closes_on: date,
    now: datetime,
) -> SurveyRound:
    """Store a new round; RoundExists if its code is taken."""
    if await tx.get(SurveyRound, code) is not None:
        raise RoundExists(code)
    survey_round = SurveyRound(
        code=code,
        questionnaire_id=questionnaire_id,
        questionnaire_version=questionnaire_version,
        questionnaire_source=questionnaire_source,
        opens_on=opens_on,
        closes_on=closes_on,
        plan=plan,
        created_at=now,
    )
    tx.add(survey_round)
    return survey_round


async def get_round(tx: Transaction, code: str) -> SurveyRound | None:
    """The round with this code, or None."""
    return await tx.get(SurveyRound, code)


async def list_rounds(tx: Transaction) -> list[SurveyRound]:
    """Every stored round, the newest opening first."""
    return list(
        (
            await tx.scalars(
                select(SurveyRound).order_by(SurveyRound.opens_on.desc(), SurveyRound.code)
            )
        ).all()
    )


def round_open(survey_round: SurveyRound, today: date) -> InvitationProblem | None:
    """Why the round takes no survey on `today` (a local day), or None when it does."""
    if survey_round.closed_at is not None or today > survey_round.closes_on:
        return InvitationProblem.ROUND_CLOSED
    if today < survey_round.opens_on:
        return InvitationProblem.ROUND_NOT_OPEN
    return None


@dataclass(frozen=True)
class MintedInvitation:
    """A round invitation just minted, with the payload and short code shown once."""

    id: str
    payload: str
    short_code: str


async def mint_round_invitations(
    tx: AsyncSession,
    secret: str,
    survey_round: SurveyRound,
    group_code: str,
    count: int,
    now: datetime,
) -> list[MintedInvitation]:
    """`count` new single-use invitations of one group of the round."""
    minted: list[MintedInvitation] = []
    while len(minted) < count:
        invitation_id = secrets.token_hex(INVITATION_ID_BYTES)
        payload, short_code = round_credentials(secret, invitation_id)
        invitation = RoundInvitation(
            id=invitation_id,
            token_hash=keyed_hash(secret, "round-invitation", payload),
            short_code_hash=keyed_hash(secret, "short-code", short_code),
            round_code=survey_round.code,
            group_code=group_code,
            created_at=now,
        )
        try:
            async with tx.begin_nested():
                tx.add(invitation)
        except IntegrityError:
            continue  # a short-code collision: another id, another code
        minted.append(MintedInvitation(invitation_id, payload, short_code))
    return minted


async def find_round_invitation(tx: Transaction, secret: str, text: str) -> RoundInvitation | None:
    """The round invitation a payload (`r_…`) or a short code names, if any."""
    if text.startswith(ROUND_PREFIX):
        column, digest = RoundInvitation.token_hash, keyed_hash(secret, "round-invitation", text)
    else:
        code = normalise_short_code(text)
        if code is None:
            return None
        column, digest = RoundInvitation.short_code_hash, keyed_hash(secret, "short-code", code)
    return (await tx.execute(select(RoundInvitation).where(column == digest))).scalar_one_or_none()


def round_claim_refusal(
    invitation: RoundInvitation, respondent_key: str
) -> InvitationProblem | None:
    """Why this respondent cannot open the invitation, or None (the claim stays the arbiter)."""
    if invitation.completed_at is not None:
        return InvitationProblem.COMPLETED
    if invitation.claimed_by is not None and invitation.claimed_by != respondent_key:
        return InvitationProblem.CLAIMED
    return None


async def claim_round_invitation(
    tx: Transaction, invitation: RoundInvitation, respondent_key: str, now: datetime
) -> None:
    """Bind the invitation to this respondent, atomically; InvitationRefused says why not. The
    same respondent opening it again (to resume) is let through."""
    result = await tx.execute(
        update(RoundInvitation)
        .where(
            RoundInvitation.id == invitation.id,
            RoundInvitation.completed_at.is_(None),
            RoundInvitation.claimed_by.is_(None) | (RoundInvitation.claimed_by == respondent_key),
        )
        .values(claimed_by=respondent_key, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], result).rowcount == 1:
        return
    await tx.refresh(invitation)
    raise InvitationRefused(
        round_claim_refusal(invitation, respondent_key) or InvitationProblem.CLAIMED
    )


async def complete_round_invitation(tx: Transaction, invitation_id: str, now: datetime) -> None:
    """The invitation's form is answered: it opens nothing any more."""
    await tx.execute(
        update(RoundInvitation).where(RoundInvitation.id == invitation_id).values(completed_at=now)
    )


async def close_round(tx: Transaction, survey_round: SurveyRound, now: datetime) -> None:
    """Close the round early: its invitations open nothing from now on."""
    survey_round.closed_at = now


@dataclass(frozen=True)
class GroupProgress:
    """Of one group: the invitations minted, those opened, and the forms completed (a
    respondent who said they are not in the group is counted apart, `screened_out`)."""

    group_code: str
    invited: int
    started: int
    completed: int
    screened_out: int


@dataclass(frozen=True)
class RoundSession:
    """A completed session of a round: its group, the units it rated in order, its answers."""

    group_code: str
    rated_units: tuple[str, ...]
    answers: dict[str, str | None]


async def group_progress(tx: Transaction, round_code: str) -> dict[str, GroupProgress]:
    """Per group of the round: invitations minted and opened, forms completed (a withdrawn
    form no longer counts) and respondents screened out."""
    rows = await tx.execute(
        select(
            RoundInvitation.group_code,
            func.count(),
            func.count(RoundInvitation.claimed_at),
        )
        .where(RoundInvitation.round_code == round_code)
        .group_by(RoundInvitation.group_code)
    )
    counts = {group: (int(invited), int(started)) for group, invited, started in rows.tuples()}
    sessions = await completed_round_sessions(tx, round_code)
    completed = Counter(session.group_code for session in sessions if session.rated_units)
    screened = Counter(session.group_code for session in sessions if not session.rated_units)
    return {
        group: GroupProgress(group, invited, started, completed[group], screened[group])
        for group, (invited, started) in counts.items()
    }


async def completed_round_sessions(tx: Transaction, round_code: str) -> list[RoundSession]:
    """The completed sessions of the round with their answers. A respondent who said they are
    not in the group was asked about no unit (no answer of the rated-unit block, skipped or
    not): they rated none."""
    sessions = (
        (
            await tx.execute(
                select(SurveySession.id, SurveySession.group_code, SurveySession.rated_units).where(
                    SurveySession.round_code == round_code, SurveySession.status == "completed"
                )
            )
        )
        .tuples()
        .all()
    )
    answers: dict[int, dict[str, str | None]] = {session_id: {} for session_id, _, _ in sessions}
    if sessions:
        rows = await tx.execute(
            select(Answer.session_id, Answer.item_code, Answer.value).where(
                Answer.session_id.in_(list(answers))
            )
        )
        for session_id, item_code, value in rows.tuples():
            answers[session_id][item_code] = value
    return [
        RoundSession(
            group or "",
            tuple(units or ())
            if any(split_repeat(code)[1] for code in answers[session_id])
            else (),
            answers[session_id],
        )
        for session_id, group, units in sessions
    ]
