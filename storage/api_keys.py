"""API keys of the one-stop information systems: create, revoke, verify, scope, rate limit.

A key is `sipas_` + 43 random URL-safe characters (256 bits), shown once when it is
created; only its SHA-256 digest is stored. A slow password hash (argon2) buys nothing
for a key of that entropy, and an unkeyed digest keeps keys valid across a rotation of
the deployment secret.

A key is scoped to units and agencies (`ApiKey.unit_codes`), as a staff viewer is
(`storage.staff.scope_of`): a unit brings every unit below it, an agency its counters
(a department's one-stop system gets a key for that department's counters, not for the
whole province). An empty scope means everything: only an operator creates such a key.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from problems import ProblemsFound
from storage.models import ApiKey, Invitation, ServicePoint
from storage.staff import Scope, scope_of, unknown_scope_codes

__all__ = [
    "KEY_PREFIX",
    "ApiKeyError",
    "CreatedApiKey",
    "RateLimiter",
    "create_api_key",
    "get_api_key",
    "hash_api_key",
    "key_scope",
    "list_api_keys",
    "revoke_api_key",
    "service_point_in_scope",
    "shared_dossier_invitations",
    "verify_api_key",
]

KEY_PREFIX = "sipas_"
MAX_NAME_LENGTH = 100
# Writing last_used_at on every request would make each read a write; once a minute
# is precise enough to tell a live key from a forgotten one.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyError(ProblemsFound):
    """A key could not be created or revoked; the message says why and what to do."""


@dataclass(frozen=True)
class CreatedApiKey:
    """A new key as shown once to the operator: `key` is not stored anywhere."""

    api_key: ApiKey
    key: str


def hash_api_key(key: str) -> str:
    """The only form in which a key is stored (hex SHA-256)."""
    return hashlib.sha256(key.encode()).hexdigest()


async def create_api_key(
    session: AsyncSession, *, name: str, unit_codes: Sequence[str], now: datetime
) -> CreatedApiKey:
    """A new key named `name`, scoped to `unit_codes` (empty: every unit)."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ApiKeyError(
            f"a key name is 1 to {MAX_NAME_LENGTH} characters, e.g. 'mot-cua-ba-dinh'"
        )
    if (await session.scalars(select(ApiKey).where(ApiKey.name == name))).first() is not None:
        raise ApiKeyError(f"a key named {name!r} exists already (choose another name)")
    unknown = await unknown_scope_codes(session, unit_codes)
    if unknown:
        raise ApiKeyError(
            f"unknown unit or agency code(s): {', '.join(unknown)} "
            "(see `sipas units list` for codes)"
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey(
        name=name,
        key_hash=hash_api_key(key),
        unit_codes=sorted(set(unit_codes)),
        created_at=now,
    )
    session.add(api_key)
    await session.flush()
    return CreatedApiKey(api_key=api_key, key=key)


async def get_api_key(session: AsyncSession, name_or_id: str) -> ApiKey | None:
    """The key with this name, or with this numeric id."""
    found = (await session.scalars(select(ApiKey).where(ApiKey.name == name_or_id))).first()
    if found is None and name_or_id.isdigit():
        found = await session.get(ApiKey, int(name_or_id))
    return found


async def revoke_api_key(session: AsyncSession, name_or_id: str, now: datetime) -> ApiKey:
    """Revoke a key by name or id (revoking twice keeps the first time)."""
    api_key = await get_api_key(session, name_or_id)
    if api_key is None:
        raise ApiKeyError(f"no key named {name_or_id!r} (see `sipas apikey list`)")
    if api_key.revoked_at is None:
        api_key.revoked_at = now
        await session.flush()
    return api_key


async def list_api_keys(session: AsyncSession) -> list[ApiKey]:
    """Every key, revoked ones too, by id."""
    return list((await session.scalars(select(ApiKey).order_by(ApiKey.id))).all())


async def verify_api_key(session: AsyncSession, key: str, now: datetime) -> ApiKey | None:
    """The live key this secret names, or None; notes when it was last used."""
    if not key.startswith(KEY_PREFIX):
        return None
    api_key = (
        await session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_api_key(key)))
    ).first()
    if api_key is None or api_key.revoked_at is not None:
        return None
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        api_key.last_used_at = now
        await session.flush()
    return api_key


async def key_scope(session: AsyncSession, api_key: ApiKey) -> Scope:
    """What a key may act on."""
    if not api_key.unit_codes:
        return Scope(everything=True)
    return await scope_of(session, api_key.unit_codes)


async def service_point_in_scope(
    session: AsyncSession, api_key: ApiKey, service_point: ServicePoint
) -> bool:
    """Whether the key may mint and read invitations of this counter."""
    return (await key_scope(session, api_key)).allows("service_point", service_point.code)


async def invitation_in_scope(
    session: AsyncSession, api_key: ApiKey, invitation: Invitation
) -> bool:
    """Whether the key may see an invitation: its counter's."""
    point = await session.get(ServicePoint, invitation.service_point_code)
    return point is not None and await service_point_in_scope(session, api_key, point)


async def shared_dossier_invitations(
    session: AsyncSession,
    api_key: ApiKey | None,
    service_point_code: str,
    earlier: Sequence[Invitation],
) -> list[Invitation]:
    """Those of a dossier's `earlier` invitations that a new one at this counter, asked for
    with `api_key` (None: by the operator, whose scope is everything), must reckon with.

    An earlier invitation counts when both systems could have minted where the other did:
    its counter is in the asking key's scope (else telling of it, answered or open, would
    tie someone else's transaction to the survey) and this counter is in the scope of the
    key that minted it (else any key could hold a reference for up to a year and refuse
    it to the counters that own it). Keys whose scopes do not reach each other's counters
    never meet over a reference, as if each had its own; a city's key and a ward's key
    meet at the ward's counters, which both serve.
    """
    asking = Scope(everything=True) if api_key is None else await key_scope(session, api_key)
    minters: dict[int | None, Scope] = {None: Scope(everything=True)}
    shared = []
    for invitation in earlier:
        if not asking.allows("service_point", invitation.service_point_code):
            continue
        if invitation.api_key_id not in minters:
            minter = await session.get(ApiKey, invitation.api_key_id)
            minters[invitation.api_key_id] = (
                await key_scope(session, minter) if minter else Scope(everything=False)
            )
        if minters[invitation.api_key_id].allows("service_point", service_point_code):
            shared.append(invitation)
    return shared


class RateLimiter:
    """A token bucket per key (an API key's id, a keyed hash of a client address), in this
    process's memory: the one process serving on SQLite keeps its limits so
    (`storage.shared_limits.SharedRateLimiter` shares them between workers). `burst` (default: `per_minute`) is how many
    requests may come at once. A bucket that has filled up again is forgotten once many
    keys were seen, so memory follows the keys of the last window, not of all time. The
    clock is passed in (monotonic seconds) so tests control it.
    """

    FORGET_FROM = 1024  # buckets kept before refilled ones are looked for

    def __init__(self, per_minute: float, *, burst: int | None = None) -> None:
        if per_minute <= 0 or (burst if burst is not None else per_minute) < 1:
            raise ValueError("a rate limit allows at least 1 request in a burst, and refills")
        self.capacity = float(burst if burst is not None else per_minute)
        self.refill_per_second = per_minute / 60.0
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key -> (tokens, at)
        self._forget_at = self.FORGET_FROM

    def acquire(self, key: Hashable, now: float) -> int | None:
        """Take one request from the key's bucket: None if allowed, else seconds to wait."""
        tokens, at = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.refill_per_second)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            self._forget_refilled(now)
            return None
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.refill_per_second))

    def __len__(self) -> int:
        """How many keys' buckets are kept."""
        return len(self._buckets)

    def _forget_refilled(self, now: float) -> None:
        """Drop the buckets that are full again: a new bucket for their key is the same."""
        if len(self._buckets) < self._forget_at:
            return
        self._buckets = {
            key: (tokens, at)
            for key, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.refill_per_second < self.capacity
        }
        self._forget_at = max(self.FORGET_FROM, 2 * len(self._buckets))
