"""Where the citizens' pages live in the web app, and the link a QR code carries (light: the
CLI, the posters and the invitation API build links with it)."""

from __future__ import annotations

from storage.invitations import telegram_link

__all__ = [
    "KIOSK_PREFIX",
    "LANDING_PREFIX",
    "STATIC_PREFIX",
    "SURVEY_PATH",
    "kiosk_link",
    "landing_link",
    "qr_target",
]

LANDING_PREFIX = "/s"  # /s/<payload>: a counter's or invitation's landing page
SURVEY_PATH = f"{LANDING_PREFIX}/survey"  # the web survey in a phone's browser
KIOSK_PREFIX = f"{LANDING_PREFIX}/kiosk"  # /s/kiosk/<token>: a counter's tablet
STATIC_PREFIX = f"{LANDING_PREFIX}/static"


def landing_link(public_url: str, payload: str) -> str:
    """The landing page of a counter's or invitation's start payload."""
    return f"{public_url.rstrip('/')}{LANDING_PREFIX}/{payload}"


def kiosk_link(base_url: str, token: str) -> str:
    """The URL a counter's tablet opens."""
    return f"{base_url.rstrip('/')}{KIOSK_PREFIX}/{token}"


def qr_target(public_url: str | None, bot_username: str, payload: str) -> str:
    """What a QR code opens: the landing page (browser, Zalo or Telegram) when the service has
    a public URL, else the Telegram deep link."""
    if public_url:
        return landing_link(public_url, payload)
    return telegram_link(bot_username, payload)
