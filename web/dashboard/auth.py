"""Dashboard sessions, CSRF tokens and the login rate limit (no server-side session table).

- Session cookie: `ID.ISSUED.SIGNATURE`, signed with the deployment secret over the
  account id, the issue time and a fingerprint of the account's password hash, so a new
  password ends every earlier session; disabled accounts are refused on every request.
  Logout forgets the token in this process too (a copied cookie stops working here).
- CSRF: a random `sipas_csrf` cookie, and each form carries a keyed hash of it (a signed
  double-submit token), plus an Origin check when the browser sends one.
- Login rate limit: failures per client address and per login name in a sliding window,
  in this process's memory.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from storage.models import StaffAccount
from storage.privacy import keyed_hash, same_digest

__all__ = [
    "CSRF_COOKIE",
    "LANGUAGE_COOKIE",
    "SESSION_COOKIE",
    "LoginLimiter",
    "SessionSigner",
    "csrf_token",
    "new_csrf_seed",
]

SESSION_COOKIE = "sipas_staff"
CSRF_COOKIE = "sipas_csrf"
LANGUAGE_COOKIE = "sipas_lang"


def new_csrf_seed() -> str:
    """The random value of a fresh CSRF cookie."""
    return secrets.token_urlsafe(24)


def csrf_token(secret: str, seed: str) -> str:
    """The form token that goes with a CSRF cookie value."""
    return keyed_hash(secret, "staff-csrf", seed)[:40]


@dataclass
class SessionSigner:
    """Issues and checks session cookie values."""

    secret: str
    max_age: timedelta
    _revoked: dict[str, float] = field(default_factory=dict)

    def _signature(self, account: StaffAccount, issued: int) -> str:
        fingerprint = keyed_hash(
            self.secret, "staff-password-fingerprint", account.password_hash or ""
        )
        return keyed_hash(self.secret, "staff-session", f"{account.id}.{issued}.{fingerprint}")[:43]

    def issue(self, account: StaffAccount, now: datetime) -> str:
        issued = int(now.timestamp())
        return f"{account.id}.{issued}.{self._signature(account, issued)}"

    @staticmethod
    def account_id(token: str) -> int | None:
        """The account id a cookie claims (to be checked with `valid`), or None if malformed."""
        parts = token.split(".")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            return None
        return int(parts[0])

    def valid(self, token: str, account: StaffAccount, now: datetime) -> bool:
        """Whether the cookie was issued for this account, is fresh and was not logged out."""
        if account.disabled_at is not None or account.password_hash is None:
            return False
        _id, issued_text, signature = token.split(".")
        issued = int(issued_text)
        if not issued <= now.timestamp() + 60 < issued + self.max_age.total_seconds() + 60:
            return False
        if token in self._revoked:
            return False
        return same_digest(signature, self._signature(account, issued))

    def revoke(self, token: str) -> None:
        """Forget a token at logout (until it would have expired anyway)."""
        now = time.time()
        self._revoked = {
            kept: until for kept, until in self._revoked.items() if until > now
        }  # drop the expired ones while here
        self._revoked[token] = now + self.max_age.total_seconds()


@dataclass
class LoginLimiter:
    """At most `attempts` failed logins per client address and per name within `window`."""

    attempts: int = 5
    window: timedelta = timedelta(minutes=15)
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and now - failures[0] > self.window.total_seconds():
            failures.popleft()
        return failures

    def blocked_for(self, client: str, name: str, now: float | None = None) -> int:
        """Seconds until a login may be tried again from here or for this name; 0 if now."""
        now = time.monotonic() if now is None else now
        waits = [
            int(self.window.total_seconds() - (now - failures[0])) + 1
            for failures in (
                self._recent(f"client:{client}", now),
                self._recent(f"name:{name.lower()}", now),
            )
            if len(failures) >= self.attempts
        ]
        return max(waits, default=0)

    def failed(self, client: str, name: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._recent(f"client:{client}", now).append(now)
        self._recent(f"name:{name.lower()}", now).append(now)
        if len(self._failures) > 10_000:  # bound memory under a spray of names
            self._failures = {key: value for key, value in self._failures.items() if value}

    def succeeded(self, name: str) -> None:
        self._failures.pop(f"name:{name.lower()}", None)
