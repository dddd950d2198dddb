"""Where the staff dashboard lives in the web app (light: the CLI prints links with it)."""

from __future__ import annotations

from urllib.parse import quote

DASHBOARD_PREFIX = "/dashboard"
LOGIN_PATH = f"{DASHBOARD_PREFIX}/login"
PASSWORD_PATH = f"{DASHBOARD_PREFIX}/password"


def password_link(base_url: str, code: str) -> str:
    """The link a staff member opens to set the dashboard password with a one-time code."""
    return f"{base_url.rstrip('/')}{PASSWORD_PATH}?code={quote(code)}"
