"""Invitations: signed counter tokens, single-use per-dossier invitations, and their short codes.

Every start payload fits Telegram's deep-link limit (64 characters of [A-Za-z0-9_-]):
- `c_<service point code>_<signature>`: a counter's static token, printed on its poster;
  the signature (HMAC under the deployment secret) stops anyone forging one for
  another counter;
- `i_<22 characters>`: a single-use invitation. Its payload and short code are derived
  from its public id with the secret (HMAC), so they can be shown again (the same dossier
  asked twice, its QR fetched later), and only their keyed hashes are stored.
A short code (8 characters of an alphabet without look-alikes, case-insensitive) stands
in for a payload on channels that cannot carry one (Zalo).

An invitation is minted for one of the dossier's two moments (`Stage`): at reception (the
whole survey; the result screener is asked) or when the result is returned (the screener
answered "received" in advance).
"""

from __future__ import annotations

import base64
import enum
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import exists, func, select, text, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.api_keys import shared_dossier_invitations
from storage.db import Transaction
from storage.models import ApiKey, Invitation, ServicePoint, SurveySession
from storage.privacy import keyed_hash, same_digest
from storage.procedures import Attribution

COUNTER_PREFIX = "c_"
INVITATION_PREFIX = "i_"
SHORT_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud or typed safely
SHORT_CODE_LENGTH = 8
SIGNATURE_LENGTH = 16
INVITATION_ID_BYTES = 8
PAYLOAD_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SHORT_CODE_PATTERN = re.compile(rf"^[{SHORT_CODE_ALPHABET}]{{{SHORT_CODE_LENGTH}}}$")
SERVICE_POINT_CODE_PATTERN = re.compile(r"^[A-Z0-9-]{1,40}$")
DOSSIER_REF_MAX_LENGTH = 100
# What one-stop systems number dossiers with (000.00.01.H26-250101-0001 under TT 01/2018),
# and nothing that could make two references look alike: no spaces, no other characters.
DOSSIER_REF_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._/:-]{{0,{DOSSIER_REF_MAX_LENGTH - 1}}}")
DOSSIER_REF_RULE = (
    f"a dossier reference is 1 to {DOSSIER_REF_MAX_LENGTH} characters: letters A-Z and a-z, "
    "digits, and . - _ / : after the first (no spaces inside), "
    "e.g. 000.00.01.H26-250101-0001"
)


class Stage(enum.StrEnum):
    """The dossier's moment an invitation is minted at, and its survey asked at."""

    RECEPTION = "reception"
    RESULT = "result"


class InvitationProblem(enum.StrEnum):
    """Why a payload or short code cannot start a survey (each has a message for citizens)."""

    MALFORMED = "malformed"
    FORGED = "forged"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    CLAIMED = "claimed"  # by another respondent
    COMPLETED = "completed"  # already answered: one transaction, one response
    INACTIVE = "inactive"  # the counter no longer takes surveys
    ROUND_CLOSED = "round_closed"  # a survey round's invitation after the round closed
    ROUND_NOT_OPEN = "round_not_open"  # … before it opens


class InvitationRefused(Exception):
    def __init__(self, problem: InvitationProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True)
class StartTarget:
    """Where a survey starts: a counter, and for a per-dossier invitation its id and stage."""

    service_point_code: str
    invitation_id: str | None = None
    stage: str = Stage.RECEPTION


def _signature(secret: str, purpose: str, value: str) -> str:
    digest = bytes.fromhex(keyed_hash(secret, purpose, value))
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:SIGNATURE_LENGTH]


def counter_payload(secret: str, service_point_code: str) -> str:
    """The static start payload of a counter's poster."""
    payload = (
        f"{COUNTER_PREFIX}{service_point_code}_{_signature(secret, 'counter', service_point_code)}"
    )
    assert PAYLOAD_PATTERN.match(payload), "service point codes are [A-Z0-9-], at most 40"
    return payload


def counter_short_code(secret: str, service_point_code: str) -> str:
    """The counter's static short code (for Zalo), derived from the secret: nothing to store."""
    digest = bytes.fromhex(keyed_hash(secret, "counter-short-code", service_point_code))
    return "".join(SHORT_CODE_ALPHABET[byte % len(SHORT_CODE_ALPHABET)] for byte in digest[:8])


def normalise_short_code(text: str) -> str | None:
    """The short code in `text` (case, spaces and dashes ignored), or None if it is not one."""
    candidate = re.sub(r"[\s-]", "", text).upper()
    return candidate if SHORT_CODE_PATTERN.match(candidate) else None


def parse_counter_payload(secret: str, payload: str) -> str:
    """The service point code of a genuine counter payload; InvitationRefused otherwise."""
    body = payload.removeprefix(COUNTER_PREFIX)
    # Split at the first "_": codes never contain one, base64url signatures may.
    code, _, signature = body.partition("_")
    if not code or not SERVICE_POINT_CODE_PATTERN.match(code):
        raise InvitationRefused(InvitationProblem.MALFORMED)
    if not same_digest(signature, _signature(secret, "counter", code)):
        raise InvitationRefused(InvitationProblem.FORGED)
    return code


def dossier_reference(text: str) -> str:
    """The dossier reference `text` gives, surrounding spaces dropped; ValueError (saying what a
    reference must look like) when it is not one, e.g. nothing but spaces."""
    reference = text.strip()
    if not DOSSIER_REF_PATTERN.fullmatch(reference):
        raise ValueError(DOSSIER_REF_RULE)
    return reference


def dossier_hash(secret: str, dossier_ref: str) -> str:
    """The only form in which a dossier reference is stored (ValueError if it is not one)."""
    return keyed_hash(secret, "dossier", dossier_reference(dossier_ref))


# --- Issuing per-dossier invitations ----------------------------------------------------


def invitation_credentials(secret: str, invitation_id: str) -> tuple[str, str]:
    """The payload (`i_` + 22 characters) and short code of an invitation, derived from its id."""
    digest = bytes.fromhex(keyed_hash(secret, "invitation-token", invitation_id))
    payload = INVITATION_PREFIX + base64.urlsafe_b64encode(digest).decode()[:22]
    digest = bytes.fromhex(keyed_hash(secret, "invitation-short-code", invitation_id))
    short_code = "".join(
        SHORT_CODE_ALPHABET[byte % len(SHORT_CODE_ALPHABET)] for byte in digest[:SHORT_CODE_LENGTH]
    )
    return payload, short_code


def recover_credentials(secret: str, invitation: Invitation) -> tuple[str, str] | None:
    """The payload and short code of an invitation issued here, or None (minted elsewhere)."""
    payload, short_code = invitation_credentials(secret, invitation.id)
    if not same_digest(invitation.token_hash, keyed_hash(secret, "invitation", payload)):
        return None
    return payload, short_code


def telegram_link(bot_username: str, payload: str) -> str:
    """The deep link that opens the bot with a start payload."""
    return f"https://t.me/{bot_username}?start={payload}"


@dataclass(frozen=True)
class IssuedInvitation:
    """An invitation with its payload and short code; `created` False: an existing one returned."""

    invitation: Invitation
    payload: str
    short_code: str
    created: bool


class DossierAnswered(Exception):
    """The dossier's invitation was already answered: one transaction, one response."""

    def __init__(self, invitation: Invitation) -> None:
        super().__init__(invitation.id)
        self.invitation = invitation


class DossierElsewhere(Exception):
    """The dossier has a live invitation at another service point."""

    def __init__(self, invitation: Invitation) -> None:
        super().__init__(invitation.id)
        self.invitation = invitation


class InvitationNotRecoverable(Exception):
    """The invitation's payload was shown once when it was minted and cannot be shown again."""

    def __init__(self, invitation: Invitation) -> None:
        super().__init__(invitation.id)
        self.invitation = invitation


async def _lock_dossier(session: AsyncSession, digest: str) -> None:
    # Two requests for one dossier at once must not mint two invitations. SQLite's
    # BEGIN IMMEDIATE serialises writers already; PostgreSQL needs a lock.
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"dossier:{digest}"},
        )


async def issue_invitation(
    session: AsyncSession,
    secret: str,
    *,
    service_point_code: str,
    now: datetime,
    ttl: timedelta,
    dossier_ref: str | None = None,
    api_key: ApiKey | None = None,
    stage: str = Stage.RECEPTION,
    attribution: Attribution | None = None,
) -> IssuedInvitation:
    """A single-use invitation at `stage`, about `attribution` (procedure, authority, how it
    was submitted; default: the counter's authority); for a dossier with a live one at this
    counter, that one.

    `api_key` is the key of the system asking (None: the operator). Of the dossier's earlier
    invitations only those it shares with this request count (`shared_dossier_invitations`):
    another system's invitation of the same reference neither blocks this one nor shows
    that it exists. A dossier already answered raises DossierAnswered; one live at another
    counter DossierElsewhere; a dossier whose invitations all expired unanswered gets a new
    one (the citizen may still answer).
    A live invitation of the other stage that nobody has started is closed and replaced
    (the reception QR code of a dossier whose result is now returned, say); one being
    answered is returned.
    """
    digest = dossier_hash(secret, dossier_ref) if dossier_ref is not None else None
    if digest is not None:
        await _lock_dossier(session, digest)
        earlier = await shared_dossier_invitations(
            session,
            api_key,
            service_point_code,
            await invitations_of_dossier(session, secret, dossier_ref or ""),
        )
        for invitation in earlier:
            if invitation.completed_at is not None:
                raise DossierAnswered(invitation)
        live = [item for item in earlier if invitation_status(item, now) != "expired"]
        for invitation in live:
            if invitation.service_point_code != service_point_code:
                continue
            if invitation.stage != stage and invitation.claimed_by is None:
                invitation.expires_at = now
                continue
            credentials = recover_credentials(secret, invitation)
            if credentials is None:
                raise InvitationNotRecoverable(invitation)
            return IssuedInvitation(invitation, *credentials, created=False)
        elsewhere = [item for item in live if item.service_point_code != service_point_code]
        if elsewhere:
            raise DossierElsewhere(elsewhere[0])
    for _attempt in range(5):
        invitation_id = secrets.token_hex(INVITATION_ID_BYTES)
        payload, short_code = invitation_credentials(secret, invitation_id)
        invitation = Invitation(
            id=invitation_id,
            token_hash=keyed_hash(secret, "invitation", payload),
            short_code_hash=keyed_hash(secret, "short-code", short_code),
            service_point_code=service_point_code,
            dossier_hash=digest,
            api_key_id=api_key.id if api_key is not None else None,
            created_at=now,
            expires_at=now + ttl,
            stage=stage,
            procedure_code=attribution.procedure_code if attribution else None,
            authority_code=attribution.authority_code if attribution else None,
            submitted_via=attribution.submitted_via if attribution else "direct",
        )
        try:
            async with session.begin_nested():
                session.add(invitation)
        except IntegrityError:
            continue  # a short-code collision (1 in 10^11): another id, another code
        return IssuedInvitation(invitation, payload, short_code, created=True)
    raise RuntimeError("could not mint a unique invitation after 5 attempts")


async def invitations_of_dossier(
    session: AsyncSession, secret: str, dossier_ref: str
) -> list[Invitation]:
    """Every invitation minted for this dossier reference, newest first."""
    return list(
        (
            await session.scalars(
                select(Invitation)
                .where(Invitation.dossier_hash == dossier_hash(secret, dossier_ref))
                .order_by(Invitation.created_at.desc())
            )
        ).all()
    )


async def invitation_by_id(session: AsyncSession, invitation_id: str) -> Invitation | None:
    """The invitation with this public id, or None."""
    return await session.get(Invitation, invitation_id)


async def find_invitation(session: Transaction, secret: str, text: str) -> Invitation | None:
    """The invitation named by a payload (`i_…`) or a short code, if any."""
    if text.startswith(INVITATION_PREFIX):
        column, digest = Invitation.token_hash, keyed_hash(secret, "invitation", text)
    else:
        code = normalise_short_code(text)
        if code is None:
            return None
        column, digest = Invitation.short_code_hash, keyed_hash(secret, "short-code", code)
    return (await session.execute(select(Invitation).where(column == digest))).scalar_one_or_none()


class CounterShortCodes:
    """The counter a typed static short code names, for one secret.

    The codes are derived, not stored, so finding one means deriving every counter's. A
    process derives each counter's code once and keeps it; a code it has not seen sends it
    back to the counters (their codes only) for any added since. Before, every typed code
    loaded every active counter and derived all their codes, inside the event's write
    transaction: milliseconds per code at hundreds of counters, tens of them at thousands.
    """

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._service_point_codes: dict[str, str] = {}  # short code -> service point code

    async def find(self, session: Transaction, text: str) -> str | None:
        """The code of the counter (active or not) whose short code `text` is, if any."""
        code = normalise_short_code(text)
        if code is None:
            return None
        if code not in self._service_point_codes:
            await self._derive_new(session)
        return self._service_point_codes.get(code)

    async def _derive_new(self, session: Transaction) -> None:
        """Derive the short code of every counter whose code is not known yet."""
        known = set(self._service_point_codes.values())
        for service_point_code in await session.scalars(select(ServicePoint.code)):
            if service_point_code not in known:
                short_code = counter_short_code(self._secret, service_point_code)
                self._service_point_codes[short_code] = service_point_code


async def claim_invitation(
    session: Transaction, invitation: Invitation, respondent_key: str, now: datetime
) -> None:
    """Bind the invitation to this respondent, atomically; InvitationRefused says why not.

    The conditional UPDATE is the arbiter: of two respondents claiming at the same
    moment exactly one changes a row. The same respondent claiming again (a re-scan)
    is allowed, so they can resume.
    """
    result = await session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.completed_at.is_(None),
            Invitation.expires_at > now,
            (Invitation.claimed_by.is_(None)) | (Invitation.claimed_by == respondent_key),
        )
        .values(claimed_by=respondent_key, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], result).rowcount == 1:
        return
    await session.refresh(invitation)
    raise InvitationRefused(refusal_reason(invitation, respondent_key, now))


def claim_refusal(
    invitation: Invitation, respondent_key: str, now: datetime
) -> InvitationProblem | None:
    """Why this respondent could not claim the invitation now, or None if they could (the claim
    itself stays the arbiter: `claim_invitation`)."""
    claimable = (
        invitation.completed_at is None
        and invitation.expires_at > now
        and invitation.claimed_by in (None, respondent_key)
    )
    return None if claimable else refusal_reason(invitation, respondent_key, now)


def refusal_reason(invitation: Invitation, respondent_key: str, now: datetime) -> InvitationProblem:
    """Why an invitation that exists cannot be claimed now by this respondent."""
    if invitation.completed_at is not None:
        return InvitationProblem.COMPLETED
    if invitation.claimed_by is not None and invitation.claimed_by != respondent_key:
        return InvitationProblem.CLAIMED
    return InvitationProblem.EXPIRED


def invitation_status(invitation: Invitation, now: datetime) -> str:
    """open, claimed, completed or expired: the status the invitation API reports."""
    if invitation.completed_at is not None:
        return "completed"
    if invitation.expires_at <= now:
        return "expired"
    if invitation.claimed_by is not None:
        return "claimed"
    return "open"


@dataclass(frozen=True)
class StageCount:
    """Of the invitations minted at one stage: how many, how many were started, completed."""

    stage: str
    invitations: int
    starts: int
    completions: int


async def stage_counts(
    session: AsyncSession, first: datetime, last: datetime
) -> dict[str, StageCount]:
    """Per stage, the invitations minted from `first` up to (not including) `last`, those a
    survey was started from, and those answered."""
    started = exists().where(SurveySession.invitation_id == Invitation.id)
    rows = await session.execute(
        select(
            Invitation.stage,
            func.count(),
            func.count().filter(started),
            func.count(Invitation.completed_at),
        )
        .where(Invitation.created_at >= first, Invitation.created_at < last)
        .group_by(Invitation.stage)
    )
    return {
        stage: StageCount(stage, int(minted), int(starts), int(completions))
        for stage, minted, starts, completions in rows.tuples()
    }
