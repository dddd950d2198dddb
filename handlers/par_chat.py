"""`/par [year] [unit]` in the staff chat: the PAR Index ranking of the scorecards a staff member
may see, or one unit's scorecard by content area."""

from __future__ import annotations

from collections.abc import Sequence

from analytics.layout import ItemLayout
from analytics.method import Method
from par.assessment import ParError
from par.publish import par_results
from par.results import ScorecardResult, in_scope
from storage.db import Database
from storage.staff import Scope

__all__ = ["par_text"]

MAX_TEXT = 3800  # Telegram allows 4096 characters; keep room for the footer


def _number(value: float) -> str:
    return f"{value:g}"


def _missing(result: ScorecardResult, text: dict[str, str]) -> str:
    return f" ({text['par_unscored'].format(count=result.unscored)})" if result.unscored else ""


def _ranking(mine: list[ScorecardResult], text: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for tree in dict.fromkeys(result.tree for result in mine):
        lines.append(text[f"par_tree_{tree}"])
        for result in (result for result in mine if result.tree == tree):
            lines.append(
                f"{result.rank}/{result.ranked}. {result.unit_name}: {_number(result.points)}/"
                f"{_number(result.max_points)} ({result.index:.2f}%) "
                f"{result.classification or text['par_unclassified']}{_missing(result, text)}"
            )
    return lines


def _scorecard(result: ScorecardResult, text: dict[str, str]) -> list[str]:
    lines = [
        text["par_unit"].format(
            name=result.unit_name,
            code=result.unit_code,
            points=_number(result.points),
            max=_number(result.max_points),
            index=f"{result.index:.2f}",
            rank=result.rank,
            ranked=result.ranked,
            label=result.classification or text["par_unclassified"],
        )
    ]
    lines += [
        f"• {content.code}. {content.title}: {_number(content.points)}/{_number(content.max_points)}"
        for content in result.contents
    ]
    if result.unscored:
        lines.append(text["par_unscored"].format(count=result.unscored))
    return lines


async def par_text(
    database: Database,
    scope: Scope,
    args: Sequence[str],
    text: dict[str, str],
    *,
    layout: ItemLayout,
    method: Method,
    min_cell_size: int,
) -> str:
    """The reply to `/par [year] [unit]`, within `scope`."""
    year = next((int(word) for word in args if word.isdigit() and len(word) == 4), None)
    unit_code = next((word for word in args if not (word.isdigit() and len(word) == 4)), None)
    try:
        published = await par_results(
            database, layout=layout, method=method, min_cell_size=min_cell_size, year=year
        )
    except ParError:
        return text["par_no_year"] if year is None else text["par_not_open"].format(year=year)
    scheme = published.assessment.scheme
    heading = text["par_heading"].format(year=published.assessment.year, title=scheme.title)
    if scheme.example:
        heading += f" {text['par_example']}"
    mine = [result for result in published.results if in_scope(scope.allows)(result)]
    if unit_code is not None:
        result = next((item for item in published.results if item.unit_code == unit_code), None)
        if result is None:
            return text["par_no_scorecard"].format(code=unit_code, year=published.assessment.year)
        if result not in mine:
            return text["out_of_scope"].format(code=unit_code)
        body = _scorecard(result, text)
    elif not mine:
        return text["par_none_in_scope"].format(year=published.assessment.year)
    else:
        body = _ranking(mine, text)
    lines = [heading]
    used = len(heading) + len(text["par_note"]) + 2
    for position, line in enumerate(body):
        if used + len(line) + 1 > MAX_TEXT:
            lines.append(text["par_more"].format(count=len(body) - position))
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join([*lines, text["par_note"]])
