"""Staff accounts: roles and unit scopes, argon2 dashboard passwords, one-time codes, Telegram enrolment.

Two one-time codes reach a new staff member:
- the password code (also as a link) sets the dashboard password. It is not stored at
  all: it is signed with the deployment secret over the account id, its expiry and the
  account's current password hash, so setting a password (which changes the hash)
  spends it, and nothing in the database can be replayed;
- the enrolment code (`/staff CODE` in a chat) binds a Telegram user id to the account;
  only its keyed hash is stored, and it is cleared once used.

Staff ids may be stored: they are staff, not respondents.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from problems import ProblemsFound
from storage.db import Database
from storage.models import AdminUnit, Agency, ServicePoint, StaffAccount
from storage.privacy import keyed_hash, same_digest
from storage.units import units_below

__all__ = [
    "CODE_TTL",
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "NewStaff",
    "Scope",
    "StaffError",
    "account_by_password_code",
    "add_staff",
    "authenticate",
    "disable_staff",
    "enrol_chat",
    "find_staff",
    "hash_new_password",
    "issue_codes",
    "list_staff",
    "normalise_enrolment_code",
    "password_code",
    "scope_of",
    "set_password",
    "spend_password_code",
    "staff_by_chat",
    "staff_by_id",
    "staff_scope",
    "unit_level",
    "unknown_scope_codes",
]

ROLES = ("viewer", "admin")
CODE_TTL = timedelta(hours=72)
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # argon2 takes any length; this only bounds the work per attempt
ENROLMENT_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L to misread
ENROLMENT_LENGTH = 10  # about 49 bits; tries are rate-limited by the chat handler
CHANNEL_TELEGRAM = "telegram"

_HASHER = PasswordHasher()


class StaffError(ProblemsFound):
    """A staff operation refused; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class NewStaff:
    """An account just added (or given new codes), with the codes to hand to its owner once."""

    account: StaffAccount
    password_code: str
    enrolment_code: str
    expires_at: datetime


@dataclass(frozen=True)
class Scope:
    """What a staff member may see, or an API key act on: everything (an admin, an unscoped
    key), or units, agencies and counters.

    The units are the assigned units and every unit below them; the counters are the
    counters in those units or of the assigned agencies (`scope_of`).
    """

    everything: bool
    units: frozenset[str] = frozenset()
    agencies: frozenset[str] = frozenset()
    service_points: frozenset[str] = frozenset()

    def allows(self, level: str, code: str) -> bool:
        """Whether a row of `level` (as in analytics.levels.LEVELS) for `code` is in scope."""
        if self.everything:
            return True
        if level == "service_point":
            return code in self.service_points
        if level == "agency":
            return code in self.agencies
        if level == "authority":
            return code in self.agencies or code in self.units
        if level == "field":
            return False  # a field spans every authority: only an unrestricted scope sees it
        return code in self.units


# --- Codes ---------------------------------------------------------------------------------


def _password_signature(secret: str, account: StaffAccount, expires: int) -> str:
    # The password hash is part of what is signed: once a password is set, every code
    # issued before stops working.
    state = f"{account.id}:{expires}:{account.password_hash or '-'}"
    digest = bytes.fromhex(keyed_hash(secret, "staff-password-code", state))
    return base64.b32encode(digest[:15]).decode().lower()


def password_code(secret: str, account: StaffAccount, expires_at: datetime) -> str:
    """The one-time code that lets the owner of `account` set the dashboard password."""
    expires = int(expires_at.timestamp())
    return f"{account.id}-{expires}-{_password_signature(secret, account, expires)}"


async def account_by_password_code(
    session: AsyncSession, secret: str, code: str, now: datetime
) -> StaffAccount | None:
    """The enabled account a password code is valid for, or None (forged, expired or spent)."""
    parts = code.strip().lower().split("-")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    account = await session.get(StaffAccount, int(parts[0]))
    expires = int(parts[1])
    if account is None or account.disabled_at is not None or expires < now.timestamp():
        return None
    newest = account.password_code_expires_at
    if newest is not None and int(newest.timestamp()) != expires:
        return None  # superseded by codes issued since
    if not same_digest(parts[2], _password_signature(secret, account, expires)):
        return None
    return account


def normalise_enrolment_code(text: str) -> str:
    """An enrolment code as typed (any case, spaces or dashes) in its canonical form."""
    return "".join(character for character in text.upper() if character.isalnum())


def _enrolment_hash(secret: str, code: str) -> str:
    return keyed_hash(secret, "staff-enrolment", normalise_enrolment_code(code))


def _new_enrolment_code() -> str:
    raw = "".join(secrets.choice(ENROLMENT_ALPHABET) for _ in range(ENROLMENT_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


# --- Accounts --------------------------------------------------------------------------------


async def unit_level(session: AsyncSession, code: str) -> str | None:
    """The aggregation level a code is counted at: a counter, an agency, or a unit's level."""
    if await session.get(ServicePoint, code) is not None:
        return "service_point"
    if await session.get(Agency, code) is not None:
        return "agency"
    level: str | None = await session.scalar(select(AdminUnit.level).where(AdminUnit.code == code))
    return level


async def unknown_scope_codes(session: AsyncSession, codes: Iterable[str]) -> list[str]:
    """The codes that name neither a unit nor an agency (for a staff or API key scope)."""
    return [
        code
        for code in codes
        if await session.get(AdminUnit, code) is None and await session.get(Agency, code) is None
    ]


async def issue_codes(
    session: AsyncSession, secret: str, account: StaffAccount, now: datetime
) -> NewStaff:
    """New password and enrolment codes for an account (earlier codes of both kinds stop working)."""
    if account.disabled_at is not None:
        raise StaffError(f"{account.name} is disabled; add a new account instead")
    enrolment = _new_enrolment_code()
    expires_at = now + CODE_TTL
    account.enrolment_code_hash = _enrolment_hash(secret, enrolment)
    account.enrolment_expires_at = expires_at
    account.password_code_expires_at = expires_at
    await session.flush()
    return NewStaff(account, password_code(secret, account, expires_at), enrolment, expires_at)


async def add_staff(
    session: AsyncSession,
    secret: str,
    *,
    name: str,
    role: str,
    unit_codes: list[str],
    now: datetime,
) -> NewStaff:
    """A new account with its one-time codes; a viewer needs at least one unit or agency."""
    name = name.strip()
    if not name:
        raise StaffError("--name: give the staff member's name")
    if role not in ROLES:
        raise StaffError(f"--role must be viewer or admin, not {role!r}")
    codes = sorted({code.strip() for code in unit_codes if code.strip()})
    if role == "viewer" and not codes:
        raise StaffError("a viewer needs --units: the unit or agency codes they may see")
    unknown = await unknown_scope_codes(session, codes)
    if unknown:
        raise StaffError(
            f"no unit or agency {unknown[0]!r}: see `sipas units list`, or load units first"
        )
    if await find_staff(session, name) is not None:
        raise StaffError(f"there is already a staff account named {name!r}")
    account = StaffAccount(name=name, role=role, unit_codes=codes, created_at=now)
    session.add(account)
    await session.flush()
    return await issue_codes(session, secret, account, now)


async def find_staff(session: AsyncSession, name_or_id: str) -> StaffAccount | None:
    """An account by name, or by id when given digits that are not a name."""
    account = await session.scalar(select(StaffAccount).where(StaffAccount.name == name_or_id))
    if account is None and name_or_id.isdigit():
        account = await session.get(StaffAccount, int(name_or_id))
    return account


async def staff_by_id(session: AsyncSession, account_id: int) -> StaffAccount | None:
    """The account with this id (enabled or not: check `disabled_at`), or None."""
    return await session.get(StaffAccount, account_id)


async def list_staff(session: AsyncSession) -> list[StaffAccount]:
    """Every account, by id."""
    return list((await session.scalars(select(StaffAccount).order_by(StaffAccount.id))).all())


async def disable_staff(session: AsyncSession, name_or_id: str, now: datetime) -> StaffAccount:
    """Disable an account: its sessions, codes and chat binding stop working at once."""
    account = await find_staff(session, name_or_id)
    if account is None:
        raise StaffError(f"no staff account {name_or_id!r}: see `sipas staff list`")
    if account.disabled_at is None:
        account.disabled_at = now
    account.telegram_user_id = None
    account.enrolment_code_hash = None
    account.enrolment_expires_at = None
    return account


# --- Passwords -----------------------------------------------------------------------------


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise StaffError(f"the password may have at most {MAX_PASSWORD_LENGTH} characters")


def hash_new_password(password: str) -> str:
    """The argon2 hash to store for a new password; StaffError if its length is refused.

    Tens of milliseconds of CPU by design: a server calls it in a worker thread, outside
    any transaction, as `authenticate` checks one.
    """
    _check_password(password)
    return _HASHER.hash(password)


def set_password(account: StaffAccount, password: str) -> None:
    """Store an argon2 hash of a new password (which also spends every password code)."""
    account.password_hash = hash_new_password(password)


async def spend_password_code(
    session: AsyncSession, secret: str, code: str, password_hash: str, now: datetime
) -> StaffAccount | None:
    """Give the account a password code is valid for `password_hash` (from `hash_new_password`),
    which spends the code; None if the code is no good, spent since it was checked included."""
    account = await account_by_password_code(session, secret, code, now)
    if account is not None:
        account.password_hash = password_hash
    return account


async def authenticate(database: Database, name: str, password: str) -> StaffAccount | None:
    """The enabled account with this name and password, or None; rehashes outdated hashes.

    Outside any transaction, with argon2 in a worker thread: a check costs tens of
    milliseconds of CPU by design, which on the event loop would stop every survey event
    for as long and, inside a transaction on SQLite, hold the one write lock too. Anyone
    can make the service check a password, as often as the login rate limit lets them.
    """
    async with database.reading() as session:
        account = await session.scalar(
            select(StaffAccount).where(StaffAccount.name == name.strip())
        )
    stored = account.password_hash if account is not None else None
    password = password[:MAX_PASSWORD_LENGTH]
    if not await asyncio.to_thread(_verified, stored, password):
        return None
    if account is None or stored is None or account.disabled_at is not None:
        return None
    if _HASHER.check_needs_rehash(stored):
        rehashed = await asyncio.to_thread(_HASHER.hash, password)
        async with database.transaction() as session:
            # Only over the hash just checked: a password set meanwhile stays.
            await session.execute(
                update(StaffAccount)
                .where(StaffAccount.id == account.id, StaffAccount.password_hash == stored)
                .values(password_hash=rehashed)
            )
        account.password_hash = rehashed
    return account


def _verified(stored: str | None, password: str) -> bool:
    """Whether `password` matches `stored`; with no hash stored, no, after as long a check."""
    try:
        return _HASHER.verify(stored or _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """What a sign-in for an unknown name is checked against, to take as long as for a known one.

    Made on the first such sign-in, not at import: a hash costs tens of milliseconds by design.
    """
    return _HASHER.hash(secrets.token_urlsafe(16))


# --- Chat enrolment ------------------------------------------------------------------------


async def enrol_chat(
    session: AsyncSession,
    secret: str,
    channel: str,
    platform_user_id: str,
    code: str,
    now: datetime,
) -> StaffAccount | None:
    """Bind a chat user to the account whose enrolment code this is; None if the code is no good.

    Only Telegram ids can be bound (the account has a column for them). A user id bound
    to another account moves to this one: the holder of a fresh code wins.
    """
    if channel != CHANNEL_TELEGRAM or not normalise_enrolment_code(code):
        return None
    account = await session.scalar(
        select(StaffAccount).where(
            StaffAccount.enrolment_code_hash == _enrolment_hash(secret, code)
        )
    )
    if (
        account is None
        or account.disabled_at is not None
        or account.enrolment_expires_at is None
        or account.enrolment_expires_at < now
    ):
        return None
    previous = await session.scalar(
        select(StaffAccount).where(StaffAccount.telegram_user_id == platform_user_id)
    )
    if previous is not None and previous.id != account.id:
        previous.telegram_user_id = None
        await session.flush()  # the unique column must be free before it is taken
    account.telegram_user_id = platform_user_id
    account.enrolment_code_hash = None
    account.enrolment_expires_at = None
    return account


async def staff_by_chat(
    session: AsyncSession, channel: str, platform_user_id: str
) -> StaffAccount | None:
    """The enabled account bound to this chat user, or None (a respondent, or a stranger)."""
    if channel != CHANNEL_TELEGRAM:
        return None
    account = await session.scalar(
        select(StaffAccount).where(StaffAccount.telegram_user_id == platform_user_id)
    )
    if account is None or account.disabled_at is not None:
        return None
    return account


# --- Scope ---------------------------------------------------------------------------------


async def staff_scope(session: AsyncSession, account: StaffAccount) -> Scope:
    """What an account may see (see `Scope`)."""
    if account.role == "admin":
        return Scope(everything=True)
    return await scope_of(session, account.unit_codes)


async def scope_of(session: AsyncSession, codes: Iterable[str]) -> Scope:
    """The scope that unit and agency `codes` name: a viewer's, or an API key's.

    A unit brings every unit below it; the counters are those in the units or of the
    agencies. Codes that name neither are left out.
    """
    units: set[str] = set()
    agencies: set[str] = set()
    for code in codes:
        below = await units_below(session, code)
        if below:
            units |= below
        elif await session.get(Agency, code) is not None:
            agencies.add(code)
    points = (
        await session.scalars(
            select(ServicePoint.code).where(
                ServicePoint.unit_code.in_(units) | ServicePoint.agency_code.in_(agencies)
            )
        )
    ).all()
    return Scope(False, frozenset(units), frozenset(agencies), frozenset(points))
