"""Keeping secrets out of log lines: query values, payload-bearing path segments, token shapes.

The access log writes every request's path and query, and httpx every URL it calls:
a one-time password link (`/dashboard/password?code=…`), an invitation payload in a
survey link, a kiosk's token in its URL, a webhook secret placed in a path, the bot token inside a Bot API URL.
`SecretRedaction` rewrites those before any handler formats the line, whatever the
route: it knows no route's parameters, only what a secret looks like and where one
travels in a URL.
"""

from __future__ import annotations

import logging
import re

from storage.api_keys import KEY_PREFIX
from storage.invitations import COUNTER_PREFIX, INVITATION_PREFIX
from web.survey.paths import KIOSK_PREFIX, LANDING_PREFIX

__all__ = ["REDACTED", "REDACTED_LOGGERS", "SecretRedaction", "redact", "redact_secrets_in_logs"]

REDACTED = "[redacted]"

# The loggers that write URLs they did not build: uvicorn's access and error logs (paths as
# requested) and httpx (URLs called, a Bot API URL carrying the token).
REDACTED_LOGGERS = ("uvicorn.access", "uvicorn.error", "httpx")

_URL_CHARACTER = r"[^\s\"'&#?/]"
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # Every query value, whatever its name: a route's parameters are its own business.
    (re.compile(r"([?&][^\s\"'&#=]+=)[^\s\"'&#]+"), rf"\1{REDACTED}"),
    # A survey link carries the invitation payload or short code as its last segment, and a
    # kiosk's URL its long-lived token after the kiosk prefix.
    (re.compile(rf"((?:{KIOSK_PREFIX}|{LANDING_PREFIX})/){_URL_CHARACTER}+"), rf"\1{REDACTED}"),
    # A webhook route is named by its platform; anything beyond the name can only be a secret.
    (re.compile(rf"(/webhooks/{_URL_CHARACTER}+/)[^\s\"'?#]+"), rf"\1{REDACTED}"),
    # The Bot API puts the bot token into the path: /bot<id>:<secret>/method.
    (re.compile(r"(/bot)\d+:[A-Za-z0-9_-]+"), rf"\1{REDACTED}"),
    # The shapes of this product's own secrets, wherever they appear.
    (re.compile(rf"\b{INVITATION_PREFIX}[A-Za-z0-9_-]{{22}}"), REDACTED),
    (re.compile(rf"\b{COUNTER_PREFIX}[A-Z0-9-]+_[A-Za-z0-9_-]+"), REDACTED),
    (re.compile(rf"\b{KEY_PREFIX}[A-Za-z0-9_-]{{16,}}"), REDACTED),
)


def redact(text: str) -> str:
    """`text` with every query value, payload-bearing path segment and known token shape replaced."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


class SecretRedaction(logging.Filter):
    """Redacts the message and the string arguments of every record it sees.

    Arguments are redacted one by one, keeping their number and order (uvicorn's own
    access formatter reads them by position); those that are not strings (httpx's
    URL objects) are redacted as text when their text holds a secret.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted_argument(argument) for argument in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted_argument(value) for key, value in record.args.items()}
        return True


def _redacted_argument(argument: object) -> object:
    if isinstance(argument, bool | int | float) or argument is None:
        return argument  # a %d must stay a number
    text = str(argument)
    redacted = redact(text)
    return argument if redacted == text else redacted


def redact_secrets_in_logs() -> None:
    """Put `SecretRedaction` on the loggers that write URLs (once, however often called).

    On the loggers themselves, not on handlers: a record is filtered where it is
    logged, before any handler (the console, the journal, a test's capture) sees it.
    """
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, SecretRedaction) for existing in logger.filters):
            logger.addFilter(SecretRedaction())
