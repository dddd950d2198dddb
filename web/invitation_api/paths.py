"""Where the invitation API lives in the web app."""

from __future__ import annotations

API_PREFIX = "/api/v1"
