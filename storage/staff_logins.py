"""Dashboard login state that every worker shares: recent failed logins, for the rate limit,
and session cookies ended by logout.

In one process's memory, `sipas serve --workers N` gave a guesser N times the attempts (each
worker counted its own) and let a logged-out cookie in on every worker but the one that
saw the logout. Addresses, names and cookies are stored only as keyed hashes, and each
table keeps only what its window still needs: every write deletes what has run out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import EndedStaffSession, StaffLoginFailure
from storage.privacy import keyed_hash

__all__ = [
    "LoginAttempt",
    "begin_login_attempt",
    "end_staff_session",
    "login_succeeded",
    "staff_session_ended",
]


def _subject_hash(secret: str, subject: str) -> str:
    return keyed_hash(secret, "staff-login-subject", subject)


def _token_hash(secret: str, token: str) -> str:
    return keyed_hash(secret, "ended-staff-session", token)


@dataclass(frozen=True)
class LoginAttempt:
    """A login attempt counted before its password is checked: `wait` > 0 if refused for now."""

    wait: timedelta
    failure_ids: tuple[int, ...] = ()


async def begin_login_attempt(
    session: AsyncSession,
    secret: str,
    subjects: Sequence[str],
    *,
    attempts: int,
    window: timedelta,
    now: datetime,
) -> LoginAttempt:
    """Count an attempt against each of `subjects` (a client address, a login name) as a
    failure, unless one of them already failed `attempts` times within `window`: then
    nothing is counted, and the attempt must wait until the oldest of those failures
    leaves the window.

    Counted before the password is checked, and one attempt at a time per subject (the
    transaction's write lock on SQLite, advisory locks on PostgreSQL): had it been counted
    after the check, every guess sent while others were being checked would have found the
    count below the limit. `login_succeeded` takes it back.
    """
    hashes = sorted({_subject_hash(secret, subject) for subject in subjects})
    if session.get_bind().dialect.name == "postgresql":
        for subject_hash in hashes:  # in one order everywhere: no deadlock between two
            await session.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": f"staff-login:{subject_hash}"},
            )
    await session.execute(
        delete(StaffLoginFailure).where(StaffLoginFailure.failed_at <= now - window)
    )
    rows = await session.execute(
        select(func.count(), func.min(StaffLoginFailure.failed_at))
        .where(StaffLoginFailure.subject_hash.in_(hashes))
        .group_by(StaffLoginFailure.subject_hash)
    )
    waits = [oldest + window - now for count, oldest in rows.tuples() if count >= attempts]
    if waits:
        return LoginAttempt(wait=max(waits))
    failures = [StaffLoginFailure(subject_hash=value, failed_at=now) for value in hashes]
    session.add_all(failures)
    await session.flush()
    return LoginAttempt(wait=timedelta(0), failure_ids=tuple(row.id for row in failures))


async def login_succeeded(
    session: AsyncSession, secret: str, attempt: LoginAttempt, name_subject: str
) -> None:
    """The password was right: the attempt was no failure, and earlier failures no longer
    count against the login name (those against the client address still do)."""
    await session.execute(
        delete(StaffLoginFailure).where(
            StaffLoginFailure.id.in_(attempt.failure_ids)
            | (StaffLoginFailure.subject_hash == _subject_hash(secret, name_subject))
        )
    )


async def end_staff_session(
    session: AsyncSession, secret: str, token: str, *, expires_at: datetime, now: datetime
) -> None:
    """Refuse this session cookie from now on, everywhere, until it expires anyway."""
    await session.execute(delete(EndedStaffSession).where(EndedStaffSession.expires_at <= now))
    # Two logouts of one cookie at once (two tabs) must both succeed: SQL both backends read.
    await session.execute(
        text(
            "INSERT INTO ended_staff_sessions (token_hash, expires_at) "
            "VALUES (:token_hash, :expires_at) ON CONFLICT (token_hash) DO NOTHING"
        ).bindparams(bindparam("expires_at", type_=EndedStaffSession.__table__.c.expires_at.type)),
        {"token_hash": _token_hash(secret, token), "expires_at": expires_at},
    )


async def staff_session_ended(session: AsyncSession, secret: str, token: str) -> bool:
    """Whether this session cookie was ended by logout."""
    return await session.get(EndedStaffSession, _token_hash(secret, token)) is not None
