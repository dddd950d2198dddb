"""The JSON of a request body that anyone may have sent: a clean refusal, never a crash.

`json.loads` raises `RecursionError`, not `ValueError`, for a body nested deeper than the
interpreter's recursion limit (`"[" * 60000` is 60 kilobytes); uncaught, that was a 500 and a
traceback in the log per request. Every route that parses JSON parses it here.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["NotJson", "json_of"]


class NotJson(ValueError):
    """The body is not JSON: not text, not well formed, or nested too deeply."""


def json_of(body: bytes) -> Any:
    """The JSON value of `body` (UTF-8, -16 or -32), or NotJson saying why not."""
    try:
        return json.loads(body)
    except RecursionError:
        raise NotJson("nested too deeply") from None
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError among them
        raise NotJson(str(error)) from None
