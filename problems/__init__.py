"""The one shape of a refusal: every problem found in what a person gave us, located and explained.

Whatever refuses input (a units file, an import file, a questionnaire, the settings, a
staff command) collects every `Problem` it finds and raises a `ProblemsFound` (a subclass
naming the input) carrying them all, so that nothing half-done is written and the person
can fix everything in one go. The command line reports them in one place, one line each:
`FILE:ROW: column: message (hint)`.

This package imports nothing of ours, so that every layer may use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Problem", "ProblemsFound", "tally"]


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One thing wrong: where it is, what is wrong, and what would be right.

    `file` names the input (a path, a file's name), or is None for input without one
    (a setting, a command's argument); `row` is the row or line in the file (the header
    is row 1), None for the file as a whole; `column` the column, field or setting;
    `hint` what is expected or what to do.
    """

    message: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    hint: str | None = None

    def __post_init__(self) -> None:
        if self.row is not None and self.file is None:
            raise ValueError("a problem's row is a row of its file: give the file too")

    def __str__(self) -> str:
        parts: list[str] = []
        if self.file is not None:
            parts.append(self.file if self.row is None else f"{self.file}:{self.row}")
        if self.column is not None:
            parts.append(self.column)
        parts.append(self.message if self.hint is None else f"{self.message} ({self.hint})")
        return ": ".join(parts)


class ProblemsFound(Exception):
    """Input refused: every problem found in it, in order, and the line that sums them up.

    Raised with a message when there is one problem and nothing to locate it by, else
    with every problem found. `summary`, when given, follows the list of problems (it
    says how many there were and what became of the work); without one, a single
    problem is the whole message.
    """

    def __init__(self, problems: str | Iterable[Problem], *, summary: str | None = None) -> None:
        found = [Problem(message=problems)] if isinstance(problems, str) else list(problems)
        if not found:
            raise ValueError("a refusal names at least one problem")
        self.problems: list[Problem] = found
        self.summary = summary
        super().__init__("\n".join(str(problem) for problem in found))


def tally(problems: Sequence[Problem]) -> str:
    """How many problems, and in which files: `2 problems in units.csv`."""
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    files = list(dict.fromkeys(problem.file for problem in problems if problem.file is not None))
    return f"{count} in {', '.join(files)}" if files else count
