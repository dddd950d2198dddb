"""The invitation API (`/api/v1`): one-stop information systems mint a single-use invitation per dossier.

    app.include_router(invitation_router(database, secret=..., bot_username=...,
                                         public_url=None, default_ttl=timedelta(hours=72)))

Design of the tokens. An invitation's payload and short code are never stored: they are
derived from its public id with the deployment secret (HMAC), and only their keyed hashes
are stored, as for every invitation. So the API can show the same payload again (the
same dossier asked twice, the QR image fetched later by id) with nothing recoverable
kept in the database; without the secret an id yields nothing. An invitation whose
hash no longer matches (the secret was rotated) is reported as not recoverable.

Errors are `application/problem+json` (RFC 9457); each `type` is a URI under
`/api/v1/problems/` that resolves to a description of the problem and what to do.
A key's rate limit is one for all the workers: kept in the database on PostgreSQL, in
memory on SQLite, where one process serves (`storage.shared_limits.SharedRateLimiter`).

The routes live by concern in `invitations` and `problems`, and find this router's settings
(a `deps.InvitationApi`) through their dependencies (`deps`); `routes` assembles them.
"""

from __future__ import annotations

from web.invitation_api.paths import API_PREFIX
from web.invitation_api.routes import invitation_router

__all__ = ["API_PREFIX", "invitation_router"]
