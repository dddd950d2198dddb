"""Kiosks: tablets at a counter running the web survey, each opened by a long-lived, revocable URL.

A kiosk's URL carries `secrets.token_urlsafe(32)` (256 bits); the database keeps only its
keyed hash under the deployment secret, so nobody reads a working URL out of a backup, a
rotated secret ends every kiosk URL (as it does the counters' tokens), and revoking the
row ends one at once, on every worker.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Kiosk, ServicePoint
from storage.privacy import keyed_hash

__all__ = [
    "IssuedKiosk",
    "KioskError",
    "issue_kiosk",
    "list_kiosks",
    "live_kiosk",
    "revoke_kiosk",
]

KIOSK_ID_BYTES = 4
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")


class KioskError(Exception):
    """A kiosk could not be issued or revoked; the message says why and what to do."""


@dataclass(frozen=True)
class IssuedKiosk:
    """A new kiosk as shown once to the operator: `token` is not stored anywhere."""

    kiosk: Kiosk
    token: str


def _token_hash(secret: str, token: str) -> str:
    return keyed_hash(secret, "kiosk", token)


async def issue_kiosk(
    session: AsyncSession, secret: str, *, service_point_code: str, now: datetime
) -> IssuedKiosk:
    """A new kiosk for an open counter."""
    point = await session.get(ServicePoint, service_point_code)
    if point is None:
        raise KioskError(
            f"no service point {service_point_code!r} (list them with `sipas units points`)"
        )
    if not point.active:
        raise KioskError(f"service point {service_point_code} is closed (active = false)")
    token = secrets.token_urlsafe(32)
    kiosk = Kiosk(
        id=secrets.token_hex(KIOSK_ID_BYTES),
        token_hash=_token_hash(secret, token),
        service_point_code=service_point_code,
        created_at=now,
    )
    session.add(kiosk)
    await session.flush()
    return IssuedKiosk(kiosk, token)


async def live_kiosk(session: AsyncSession, secret: str, token: str) -> Kiosk | None:
    """The unrevoked kiosk this URL token names, or None."""
    if not TOKEN_PATTERN.match(token):
        return None
    kiosk = (
        await session.scalars(select(Kiosk).where(Kiosk.token_hash == _token_hash(secret, token)))
    ).first()
    return kiosk if kiosk is not None and kiosk.revoked_at is None else None


async def revoke_kiosk(session: AsyncSession, kiosk_id: str, now: datetime) -> Kiosk:
    """Revoke a kiosk by id (revoking twice keeps the first time)."""
    kiosk = await session.get(Kiosk, kiosk_id)
    if kiosk is None:
        raise KioskError(f"no kiosk {kiosk_id!r} (see `sipas kiosk list`)")
    if kiosk.revoked_at is None:
        kiosk.revoked_at = now
        await session.flush()
    return kiosk


async def list_kiosks(session: AsyncSession) -> list[Kiosk]:
    """Every kiosk, revoked ones too, oldest first."""
    return list((await session.scalars(select(Kiosk).order_by(Kiosk.created_at, Kiosk.id))).all())
