"""Rotating platform credentials (the Zalo OA token pair): encrypted at rest, rotated once across processes.

Zalo's refresh token is single-use: whoever spends it must store the pair it
returns before anything else, or the OA is locked out until an operator pastes
a new one. So a refresh runs under a database lease (one process at a time, also
across hosts), re-reads the row once it holds the lease (another process may
have rotated it meanwhile), and writes the new pair with a compare-and-swap on
`ChannelCredential.version`. Everyone else waits for the version to move and
uses the stored result: exactly one refresh call per rotation.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult

from problems import ProblemsFound
from storage.db import Database
from storage.leases import acquire_lease, release_lease
from storage.models import ChannelCredential

__all__ = [
    "CredentialMissing",
    "CredentialStore",
    "CredentialUnreadable",
    "Exchange",
    "RefreshBusy",
    "StoredTokens",
    "TokenCipher",
    "TokenPair",
]

LEASE_TTL = timedelta(seconds=60)  # longer than any refresh call's HTTP timeout
WAIT_STEP_SECONDS = 0.05


class CredentialMissing(Exception):
    """No refresh token stored: an operator must run `sipas zalo set-token`."""


class CredentialUnreadable(ProblemsFound):
    """The stored tokens were encrypted under another deployment secret: set the token again."""


class RefreshBusy(Exception):
    """Another process held the refresh lease for too long without rotating the tokens."""


@dataclass(frozen=True)
class TokenPair:
    """What a refresh returns: a new access token, the next (single-use) refresh token, a lifetime."""

    access_token: str
    refresh_token: str
    expires_in: timedelta


@dataclass(frozen=True)
class StoredTokens:
    """The stored state, decrypted; `version` moves on every rotation and every set-token."""

    access_token: str | None
    refresh_token: str
    access_expires_at: datetime | None
    updated_at: datetime
    version: int

    def usable(self, now: datetime, margin: timedelta) -> bool:
        """Whether the access token exists and is not about to expire."""
        if self.access_token is None:
            return False
        return self.access_expires_at is None or self.access_expires_at - margin > now


Exchange = Callable[[str], Awaitable[TokenPair]]


class TokenCipher:
    """Fernet under a key derived from the deployment secret (as `AddressCipher`, another purpose)."""

    def __init__(self, secret: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"sipas-channel-credential"
        ).derive(secret.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise CredentialUnreadable(
                "the stored tokens do not decrypt with this SIPAS_SECRET_KEY: "
                "run `sipas zalo set-token` with a new refresh token"
            ) from None


def _default_holder() -> str:
    # The random part tells two stores of one process apart (tests run two "processes" so).
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class CredentialStore:
    """The token pair of one channel in `channel_credentials`, and its rotation."""

    def __init__(
        self,
        database: Database,
        secret: str,
        channel: str,
        *,
        lease_ttl: timedelta = LEASE_TTL,
        holder: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.database = database
        self.channel = channel
        self._cipher = TokenCipher(secret)
        self._lease_ttl = lease_ttl
        self._lease_name = f"credential:{channel}"
        self._holder = holder or _default_holder()
        self._clock = clock
        # Coroutines of this process queue here; the lease orders processes.
        self._local = asyncio.Lock()

    # --- reading and setting -------------------------------------------------------------------

    async def load(self) -> StoredTokens | None:
        """The stored tokens, or None when no refresh token was ever set."""
        async with self.database.reading() as tx:
            row = await tx.get(ChannelCredential, self.channel)
            if row is None:
                return None
            return StoredTokens(
                access_token=(
                    self._cipher.decrypt(row.access_token_ciphertext)
                    if row.access_token_ciphertext
                    else None
                ),
                refresh_token=self._cipher.decrypt(row.refresh_token_ciphertext),
                access_expires_at=row.access_expires_at,
                updated_at=row.updated_at,
                version=row.version,
            )

    async def version(self) -> int | None:
        """The row's version alone (cheap, and readable even under another secret)."""
        async with self.database.reading() as tx:
            result = await tx.execute(
                select(ChannelCredential.version).where(ChannelCredential.channel == self.channel)
            )
            return result.scalar_one_or_none()

    async def set_refresh_token(self, refresh_token: str) -> int:
        """Store an operator's refresh token (the access token is dropped); returns the new version."""
        token = refresh_token.strip()
        if not token:
            raise ValueError("the refresh token is empty")
        now = self._clock()
        async with self.database.transaction() as tx:
            row = await tx.get(ChannelCredential, self.channel, with_for_update=True)
            if row is None:
                row = ChannelCredential(channel=self.channel, version=0)
                tx.add(row)
            row.refresh_token_ciphertext = self._cipher.encrypt(token)
            row.access_token_ciphertext = None
            row.access_expires_at = None
            row.updated_at = now
            row.version = (row.version or 0) + 1
            return row.version

    # --- using and rotating --------------------------------------------------------------------

    async def current(self, exchange: Exchange, *, margin: timedelta) -> StoredTokens:
        """Tokens with a usable access token: the stored ones, or freshly rotated ones."""
        stored = await self.load()
        if stored is None:
            raise CredentialMissing("no Zalo OA refresh token stored: run `sipas zalo set-token`")
        if stored.usable(self._clock(), margin):
            return stored
        return await self.refresh(exchange, seen_version=stored.version)

    async def refresh(self, exchange: Exchange, *, seen_version: int) -> StoredTokens:
        """Rotate the pair that was at `seen_version`, unless someone already did.

        `exchange` spends a refresh token and returns the new pair; it is called at
        most once per version across every process sharing the database. Errors of
        `exchange` (a refused refresh token) propagate, leaving the row as it was.
        """
        async with self._local:
            give_up = time.monotonic() + 2 * self._lease_ttl.total_seconds()
            while True:
                stored = await self.load()
                if stored is None:
                    raise CredentialMissing(
                        "no Zalo OA refresh token stored: run `sipas zalo set-token`"
                    )
                if stored.version != seen_version and stored.access_token is not None:
                    return stored  # rotated by someone else meanwhile
                if await self._take_lease():
                    try:
                        rotated = await self._rotate_holding_lease(exchange, seen_version)
                    finally:
                        await self._release_lease()
                    if rotated is not None:
                        return rotated
                    continue  # the row moved under us (a set-token): look again
                if time.monotonic() > give_up:
                    raise RefreshBusy("another process holds the token refresh lease")
                await asyncio.sleep(WAIT_STEP_SECONDS)

    async def _rotate_holding_lease(
        self, exchange: Exchange, seen_version: int
    ) -> StoredTokens | None:
        stored = await self.load()
        if stored is None:
            raise CredentialMissing("no Zalo OA refresh token stored: run `sipas zalo set-token`")
        if stored.version != seen_version and stored.access_token is not None:
            return stored
        pair = await exchange(stored.refresh_token)
        # The old refresh token is spent now: the new pair goes to the database first.
        now = self._clock()
        async with self.database.transaction() as tx:
            result = cast(
                CursorResult[Any],
                await tx.execute(
                    update(ChannelCredential)
                    .where(
                        ChannelCredential.channel == self.channel,
                        ChannelCredential.version == stored.version,
                    )
                    .values(
                        access_token_ciphertext=self._cipher.encrypt(pair.access_token),
                        refresh_token_ciphertext=self._cipher.encrypt(pair.refresh_token),
                        access_expires_at=now + pair.expires_in,
                        updated_at=now,
                        version=stored.version + 1,
                    )
                ),
            )
        if result.rowcount != 1:
            # An operator set a new token while we refreshed: theirs wins.
            return None
        return StoredTokens(
            pair.access_token, pair.refresh_token, now + pair.expires_in, now, stored.version + 1
        )

    # --- the lease -----------------------------------------------------------------------------

    async def _take_lease(self) -> bool:
        """Take the refresh lease, or take over one that expired; one statement, one winner."""
        return await acquire_lease(
            self.database, self._lease_name, self._holder, self._lease_ttl, now=self._clock()
        )

    async def _release_lease(self) -> None:
        await release_lease(self.database, self._lease_name, self._holder)
