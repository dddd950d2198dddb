"""What a tapped choice sends back to the survey: its data, and the bytes every channel carries.

A question's buttons carry `a:<item>:<value>` (that answer), `s:<item>` (skip) and `b:<item>`
(back): the engine builds them with these functions and tells them apart by these actions,
and the loader refuses a questionnaire whose codes and values would not fit.
"""

from __future__ import annotations

__all__ = ["ANSWER", "BACK", "MAX_CHOICE_DATA_BYTES", "SKIP", "answer_data", "choice_data"]

# Telegram's limit on a button's callback data, the tightest of the channels'.
MAX_CHOICE_DATA_BYTES = 64

ANSWER = "a"
SKIP = "s"
BACK = "b"


def choice_data(action: str, item: str) -> str:
    """The data of a button acting on `item` without a value: SKIP or BACK."""
    return f"{action}:{item}"


def answer_data(item: str, value: str) -> str:
    """The data of the button that answers `item` with `value`."""
    return f"{ANSWER}:{item}:{value}"
