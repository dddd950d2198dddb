"""Dashboard login state that every worker shares: recent failed logins, for the sign-in limits,
and session cookies ended by logout.

In one process's memory, `sipas serve --workers N` gave a guesser N times the attempts (each
worker counted its own) and let a logged-out cookie in on every worker but the one that
saw the logout. Addresses, names and cookies are stored only as keyed hashes, and each
table keeps only what its window still needs: every write deletes what has run out.

The limits (`SignInLimits`) keep guessing expensive without making a lockout a weapon.
Refusals fall only on the address that failed: a name from one address (the guesser's
own), and any names from one address (a guesser trying one password on many names). What
a name's failures from everywhere bring is a delay, growing with each, before a password
for that name is checked: the owner with the right password still gets in, from any
address, after at most `max_delay`, while guessing costs the guesser that time each try.
Five wrong passwords from anywhere used to lock the owner out everywhere for 15 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import EndedStaffSession, StaffLoginFailure
from storage.privacy import keyed_hash

__all__ = [
    "LoginAttempt",
    "SignInLimits",
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
class SignInLimits:
    """How many failed sign-ins are allowed within `window`, and the delays a name's failures
    bring (see the module's description)."""

    attempts: int = 5  # failures of one name from one address
    address_attempts: int = 20  # failures from one address, whatever the names
    window: timedelta = timedelta(minutes=15)
    first_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(seconds=30)

    def delay(self, name_failures: int) -> timedelta:
        """How long an attempt on a name waits before its password is checked, after this
        many failures of that name (from any address) within the window: nothing for the
        first `attempts`, then `first_delay`, doubling with each failure, at most `max_delay`."""
        beyond = name_failures - self.attempts
        if beyond < 0:
            return timedelta(0)
        return min(self.first_delay * (1 << min(beyond, 32)), self.max_delay)


@dataclass(frozen=True)
class LoginAttempt:
    """A login attempt counted before its password is checked: `wait` > 0 if it is refused
    for now; else `delay`, how long to hold it before checking the password."""

    wait: timedelta
    delay: timedelta = timedelta(0)
    failure_ids: tuple[int, ...] = ()


def _subjects(name: str, address: str) -> tuple[str, str, str]:
    """What failures are counted against: the name from this address, the address, the name."""
    return f"name+address:{name}\n{address}", f"address:{address}", f"name:{name}"


async def begin_login_attempt(
    session: AsyncSession,
    secret: str,
    *,
    name: str,
    address: str,
    limits: SignInLimits,
    now: datetime,
) -> LoginAttempt:
    """Count an attempt to sign in as `name` (case-folded by the caller) from `address` as a
    failure against the name from this address, the address and the name; unless the name
    from this address already failed `limits.attempts` times within the window, or the
    address `limits.address_attempts` times: then nothing is counted, and the attempt must
    wait until the oldest of those failures leaves the window. Failures of the name from
    other addresses refuse nothing: they set the attempt's `delay`.

    Counted before the password is checked, and one attempt at a time per subject (the
    transaction's write lock on SQLite, advisory locks on PostgreSQL): had it been counted
    after the check, every guess sent while others were being checked would have found the
    count below the limit. `login_succeeded` takes it back.
    """
    pair, client, person = (_subject_hash(secret, value) for value in _subjects(name, address))
    hashes = sorted({pair, client, person})
    if session.get_bind().dialect.name == "postgresql":
        for subject_hash in hashes:  # in one order everywhere: no deadlock between two
            await session.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": f"staff-login:{subject_hash}"},
            )
    await session.execute(
        delete(StaffLoginFailure).where(StaffLoginFailure.failed_at <= now - limits.window)
    )
    rows = await session.execute(
        select(StaffLoginFailure.subject_hash, func.count(), func.min(StaffLoginFailure.failed_at))
        .where(StaffLoginFailure.subject_hash.in_(hashes))
        .group_by(StaffLoginFailure.subject_hash)
    )
    counted = {subject: (count, oldest) for subject, count, oldest in rows.tuples()}
    limit_of = {pair: limits.attempts, client: limits.address_attempts}
    waits = [
        oldest + limits.window - now
        for subject, (count, oldest) in counted.items()
        if subject in limit_of and count >= limit_of[subject]
    ]
    if waits:
        return LoginAttempt(wait=max(waits))
    failures = [StaffLoginFailure(subject_hash=value, failed_at=now) for value in hashes]
    session.add_all(failures)
    await session.flush()
    return LoginAttempt(
        wait=timedelta(0),
        delay=limits.delay(counted.get(person, (0, now))[0]),
        failure_ids=tuple(row.id for row in failures),
    )


async def login_succeeded(
    session: AsyncSession, secret: str, attempt: LoginAttempt, *, name: str, address: str
) -> None:
    """The password was right: the attempt was no failure, and the earlier failures of the
    name from this address (the owner's own typing) no longer count. Those of the name from
    elsewhere, and of the address, still do: they were someone else's, or other names'."""
    pair = _subject_hash(secret, _subjects(name, address)[0])
    await session.execute(
        delete(StaffLoginFailure).where(
            StaffLoginFailure.id.in_(attempt.failure_ids) | (StaffLoginFailure.subject_hash == pair)
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
