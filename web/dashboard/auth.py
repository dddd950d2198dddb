"""Dashboard session cookies (no server-side session table).

- Session cookie: `ID.ISSUED.NONCE.SIGNATURE`, signed with the deployment secret over the
  account id, the issue time, a random nonce (two logins in one second get two cookies,
  one logout ends one of them) and a fingerprint of the account's password hash, so a new
  password ends every earlier session; disabled accounts are refused on every request.
  Logout ends the cookie in the database too (`storage.staff_logins`), so a copied cookie
  stops working on every worker.
- CSRF tokens of a signed-in staff member's forms are derived from the live session, after
  the server checked it (`csrf_token`): no token obtained under another session, nor one
  that goes with a cookie value the client chose, passes. Before sign-in (the sign-in and
  set-password forms), the pre-session cookie of every form page (`web.forms`).
- Over HTTPS every dashboard cookie is named `__Host-…` (Secure, path `/`, no Domain): no
  other host under the same domain, and no plain-HTTP page, can set one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from storage.models import StaffAccount
from storage.privacy import keyed_hash, same_digest

__all__ = [
    "HOST_PREFIX",
    "LANGUAGE_COOKIE",
    "SESSION_COOKIE",
    "SessionSigner",
]

HOST_PREFIX = "__Host-"
SESSION_COOKIE = "sipas_staff"
LANGUAGE_COOKIE = "sipas_lang"
CLOCK_SLACK_SECONDS = 60  # between the clocks of the workers (or hosts) that issue and check


@dataclass
class SessionSigner:
    """Issues and checks session cookie values."""

    secret: str
    max_age: timedelta

    def _signature(self, account: StaffAccount, issued: int, nonce: str) -> str:
        fingerprint = keyed_hash(
            self.secret, "staff-password-fingerprint", account.password_hash or ""
        )
        signed = f"{account.id}.{issued}.{nonce}.{fingerprint}"
        return keyed_hash(self.secret, "staff-session", signed)[:43]

    def issue(self, account: StaffAccount, now: datetime) -> str:
        issued = int(now.timestamp())
        nonce = secrets.token_hex(8)
        return f"{account.id}.{issued}.{nonce}.{self._signature(account, issued, nonce)}"

    @staticmethod
    def account_id(token: str) -> int | None:
        """The account id a cookie claims (to be checked with `valid`), or None if malformed."""
        parts = token.split(".")
        if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
            return None
        return int(parts[0])

    def valid(self, token: str, account: StaffAccount, now: datetime) -> bool:
        """Whether the cookie was issued for this account and is fresh (not whether it was
        ended by logout: see `storage.staff_logins`)."""
        if account.disabled_at is not None or account.password_hash is None:
            return False
        _id, issued_text, nonce, signature = token.split(".")
        issued = int(issued_text)
        # Issued a little in the future: another worker's or host's clock may run ahead.
        if not issued - CLOCK_SLACK_SECONDS <= now.timestamp() < self._expiry(issued):
            return False
        return same_digest(signature, self._signature(account, issued, nonce))

    def csrf_token(self, token: str) -> str:
        """The CSRF token of the forms of the session `token` (a live one: checked first)."""
        return keyed_hash(self.secret, "staff-session-csrf", token)[:40]

    def expires_at(self, token: str) -> datetime:
        """When a valid cookie stops being accepted anyway."""
        return datetime.fromtimestamp(self._expiry(int(token.split(".")[1])), UTC)

    def _expiry(self, issued: int) -> float:
        return issued + self.max_age.total_seconds()
