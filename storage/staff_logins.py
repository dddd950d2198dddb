"""Dashboard login state that every worker shares: recent failed logins, for the rate limit,
and session cookies ended by logout.

In one process's memory, `sipas serve --workers N` gave a guesser N times the attempts (each
worker counted its own) and let a logged-out cookie in on every worker but the one that
saw the logout. Addresses, names and cookies are stored only as keyed hashes, and each
table keeps only what its window still needs: every write deletes what has run out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import EndedStaffSession, StaffLoginFailure
from storage.privacy import keyed_hash

__all__ = [
    "end_staff_session",
    "forget_login_failures",
    "login_wait",
    "record_login_failure",
    "staff_session_ended",
]


def _subject_hash(secret: str, subject: str) -> str:
    return keyed_hash(secret, "staff-login-subject", subject)


def _token_hash(secret: str, token: str) -> str:
    return keyed_hash(secret, "ended-staff-session", token)


async def login_wait(
    session: AsyncSession,
    secret: str,
    subjects: Sequence[str],
    *,
    attempts: int,
    window: timedelta,
    now: datetime,
) -> timedelta:
    """How long until a login may be tried again: zero unless one of `subjects` (a client
    address, a login name) failed `attempts` times within `window`, then until the oldest of
    those failures leaves the window."""
    rows = await session.execute(
        select(func.count(), func.min(StaffLoginFailure.failed_at))
        .where(
            StaffLoginFailure.subject_hash.in_([_subject_hash(secret, s) for s in subjects]),
            StaffLoginFailure.failed_at > now - window,
        )
        .group_by(StaffLoginFailure.subject_hash)
    )
    waits = [oldest + window - now for count, oldest in rows.tuples() if count >= attempts]
    return max(waits, default=timedelta(0))


async def record_login_failure(
    session: AsyncSession, secret: str, subjects: Sequence[str], *, window: timedelta, now: datetime
) -> None:
    """Count a failed login against each of `subjects`; failures past `window` go."""
    await session.execute(
        delete(StaffLoginFailure).where(StaffLoginFailure.failed_at <= now - window)
    )
    await session.execute(
        insert(StaffLoginFailure),
        [{"subject_hash": _subject_hash(secret, s), "failed_at": now} for s in subjects],
    )


async def forget_login_failures(session: AsyncSession, secret: str, subject: str) -> None:
    """A login succeeded: earlier failures no longer count against `subject`."""
    await session.execute(
        delete(StaffLoginFailure).where(
            StaffLoginFailure.subject_hash == _subject_hash(secret, subject)
        )
    )


async def end_staff_session(
    session: AsyncSession, secret: str, token: str, *, expires_at: datetime, now: datetime
) -> None:
    """Refuse this session cookie from now on, everywhere, until it expires anyway."""
    await session.execute(delete(EndedStaffSession).where(EndedStaffSession.expires_at <= now))
    token_hash = _token_hash(secret, token)
    if await session.get(EndedStaffSession, token_hash) is None:
        session.add(EndedStaffSession(token_hash=token_hash, expires_at=expires_at))


async def staff_session_ended(session: AsyncSession, secret: str, token: str) -> bool:
    """Whether this session cookie was ended by logout."""
    return await session.get(EndedStaffSession, _token_hash(secret, token)) is not None
