"""Staff chat commands, channel-agnostic: `/staff CODE`, `/summary`, `/ranking`, `/export`, `/par`.

    staff = StaffCommands(database, secret=..., zone=..., layout=..., method=...,
                          min_cell_size=settings.min_cell_size)
    replies = await staff.handle("telegram", str(user.id), "summary", ["00004", "2026-11"])
    if replies is None: ...   # not a staff command, or not staff: the survey engine answers

Anyone who is not enrolled staff (and any wrong or expired `/staff` code) gets None, so
the channel gives the same answer as to any unknown command: a stranger learns nothing.
Every figure comes from `analytics.report.index_table`, the export's own rows, with its
suppression.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from analytics.days import Period, parse_period, period_of, reporting_day
from analytics.layout import ItemLayout
from analytics.method import Method
from analytics.query import ReportQuery
from analytics.report import index_table
from analytics.xlsx_report import figure, report_filename, report_tables, xlsx_report
from handlers.catalog import load_catalog
from handlers.events import Reply
from handlers.par_chat import par_text
from storage.aggregation_runs import data_as_of
from storage.db import Database
from storage.models import StaffAccount
from storage.privacy import keyed_hash
from storage.staff import Scope, enrol_chat, staff_by_chat, staff_scope, unit_level
from storage.units import list_units

__all__ = ["STAFF_COMMANDS", "StaffCommands", "StaffReply", "element_chart_png"]

STAFF_COMMANDS = ("staff", "summary", "ranking", "export", "par")
ENROLMENT_TRIES = 5  # wrong codes per chat user and hour before /staff is ignored
ENROLMENT_WINDOW_SECONDS = 3600.0
MAX_TEXT = 3800  # Telegram allows 4096 characters; keep room for the footer


@dataclass(frozen=True)
class StaffReply(Reply):
    """A reply that may carry a picture (`image`, PNG) or a file (`document`) named `filename`."""

    image: bytes | None = None
    document: bytes | None = None
    filename: str | None = None


def _language(locale: str | None) -> str:
    return "en" if locale and locale.lower().startswith("en") else "vi"


def previous_period(period: Period) -> Period:
    """The period of the same kind just before this one (2026-10 before 2026-11)."""
    return period_of(period.start - timedelta(days=1), period.kind)


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _delta(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return ""
    change = now - before
    arrow = "▲" if change > 0.05 else "▼" if change < -0.05 else "="
    return f" {arrow} {change:+.1f}"


def element_chart_png(
    title: str,
    labels: Sequence[str],
    current: Sequence[float | None],
    previous: Sequence[float | None],
    *,
    current_label: str,
    previous_label: str,
) -> bytes:
    """A horizontal bar chart (PNG) of element indices, this period beside the previous one."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure_ = Figure(figsize=(6.4, 0.55 * len(labels) + 1.6), dpi=110)
    FigureCanvasAgg(figure_)
    axes = figure_.add_subplot()
    rows = list(range(len(labels)))[::-1]
    height = 0.38
    axes.barh(
        [row + height / 2 for row in rows],
        [value or 0.0 for value in current],
        height,
        label=current_label,
        color="#1f5f99",
    )
    axes.barh(
        [row - height / 2 for row in rows],
        [value or 0.0 for value in previous],
        height,
        label=previous_label,
        color="#a9c4de",
    )
    for row, value in zip(rows, current, strict=True):
        axes.text((value or 0.0) + 1, row + height / 2, _number(value), va="center", fontsize=8)
    axes.set_yticks(rows, labels=list(labels), fontsize=8)
    axes.set_xlim(0, 110)
    axes.set_xlabel("%")
    axes.set_title(title, fontsize=10)
    axes.legend(loc="lower right", fontsize=8)
    figure_.tight_layout()
    buffer = io.BytesIO()
    figure_.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


class StaffCommands:
    """The staff side of a chat: enrolment and read-only reports, within each member's scope."""

    def __init__(
        self,
        database: Database,
        *,
        secret: str,
        zone: ZoneInfo,
        layout: ItemLayout,
        method: Method,
        min_cell_size: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.database = database
        self.secret = secret
        self.zone = zone
        self.layout = layout
        self.method = method
        self.min_cell_size = min_cell_size
        self.clock = clock
        self._failed_tries: dict[str, list[float]] = {}

    async def handle(
        self,
        channel: str,
        platform_user_id: str,
        command: str,
        args: Sequence[str] = (),
        *,
        locale: str | None = None,
    ) -> list[StaffReply] | None:
        """The replies to a staff command, or None when this is not one for this user."""
        command = command.lower().lstrip("/").split("@")[0]
        if command not in STAFF_COMMANDS:
            return None
        text = load_catalog().section(_language(locale), "staff.")
        if command == "staff":
            return await self._enrol(channel, platform_user_id, args, text)
        async with self.database.transaction() as session:
            account = await staff_by_chat(session, channel, platform_user_id)
            if account is None:
                return None
            scope = await staff_scope(session, account)
        if command == "summary":
            return await self._summary(account, scope, args, text)
        if command == "ranking":
            return await self._ranking(scope, args, text)
        if command == "par":
            reply = await par_text(
                self.database,
                scope,
                args,
                text,
                layout=self.layout,
                method=self.method,
                min_cell_size=self.min_cell_size,
            )
            return [StaffReply(reply)]
        return await self._export(scope, args, text, _language(locale))

    # --- /staff CODE ------------------------------------------------------------------------

    async def _enrol(
        self, channel: str, platform_user_id: str, args: Sequence[str], text: dict[str, str]
    ) -> list[StaffReply] | None:
        # Held in memory only, under a keyed hash: a stranger's id is never kept in clear.
        tries_key = keyed_hash(
            self.secret, "staff-enrolment-tries", f"{channel}:{platform_user_id}"
        )
        now = time.monotonic()
        recent = [
            at
            for at in self._failed_tries.get(tries_key, [])
            if now - at < ENROLMENT_WINDOW_SECONDS
        ]
        if len(recent) >= ENROLMENT_TRIES or not args:
            return None
        async with self.database.transaction() as session:
            account = await enrol_chat(
                session, self.secret, channel, platform_user_id, "".join(args), self.clock()
            )
            if account is not None:
                self._failed_tries.pop(tries_key, None)
                return [StaffReply(text["enrolled"].format(name=account.name, role=account.role))]
        self._failed_tries[tries_key] = [*recent, now]
        return None

    # --- shared -----------------------------------------------------------------------------

    def _this_month(self) -> Period:
        return period_of(reporting_day(self.clock(), self.zone), "month")

    def _period(self, words: Sequence[str]) -> tuple[Period | None, list[str], str | None]:
        """The period among the words (default: this month), the other words, and a bad one."""
        period: Period | None = None
        rest: list[str] = []
        for word in words:
            if (
                word[:1].isdigit()
                and len(word) in (4, 7, 8, 10)
                and ("-" in word or len(word) == 4)
            ):
                try:
                    period = parse_period(word)
                    continue
                except ValueError:
                    return None, rest, word
            rest.append(word)
        return period or self._this_month(), rest, None

    async def _as_of_line(self, text: dict[str, str]) -> str:
        when = await data_as_of(self.database)
        if when is None:
            return text["never"]
        return text["as_of"].format(when=f"{when.astimezone(self.zone):%Y-%m-%d %H:%M}")

    def _query(self, period: Period, level: str) -> ReportQuery:
        return ReportQuery(period, level, self.layout, self.method, self.min_cell_size)

    async def _table(
        self, period: Period, level: str, unit_code: str | None = None
    ) -> pd.DataFrame:
        return await index_table(self.database, self._query(period, level), unit_code=unit_code)

    async def _default_unit(self, account: StaffAccount) -> str | None:
        if account.unit_codes:
            return str(account.unit_codes[0])
        async with self.database.reading() as session:
            provinces = await list_units(session, level="province")
        return provinces[0].code if provinces else None

    # --- /summary [unit] [period] -----------------------------------------------------------

    async def _summary(
        self, account: StaffAccount, scope: Scope, args: Sequence[str], text: dict[str, str]
    ) -> list[StaffReply]:
        period, rest, bad = self._period(args)
        if period is None:
            return [StaffReply(text["bad_period"].format(text=bad))]
        code = rest[0] if rest else await self._default_unit(account)
        if code is None:
            return [StaffReply(text["unknown_unit"].format(code=""))]
        async with self.database.reading() as session:
            level = await unit_level(session, code)
        if level is None:
            return [StaffReply(text["unknown_unit"].format(code=code))]
        if not scope.allows(level, code):
            return [StaffReply(text["out_of_scope"].format(code=code))]
        before = previous_period(period)
        table = await self._table(period, level, code)
        earlier = await self._table(before, level, code)
        mine = table[table["respondent_type"] == "all"]
        if mine.empty:
            return [StaffReply(text["no_data"].format(name=code, period=period.label))]
        overall = mine[mine["scope"] == "overall"].iloc[0]
        name = str(overall["unit_name"])
        lines = [
            text["heading"].format(name=name, code=code, period=period.label),
            text["respondents"].format(n=int(overall["n_respondents"])),
        ]
        if bool(overall["suppressed"]):
            lines.append(f"{text['overall']}: {text['suppressed']}")
            lines.append(text["hidden_note"].format(min=self.min_cell_size))
            lines.append(await self._as_of_line(text))
            return [StaffReply("\n".join(lines))]
        old = earlier[(earlier["respondent_type"] == "all")].set_index(["scope", "code"])

        def old_value(scope_: str, code_: str) -> float | None:
            return (
                figure(old.loc[(scope_, code_), "index_pct"])
                if (scope_, code_) in old.index
                else None
            )

        low_marks = False

        def shown(row: pd.Series) -> str:
            nonlocal low_marks
            value = figure(row["index_pct"])
            mark = ""
            if bool(row["low_reliability"]):
                mark, low_marks = " *", True
            return _number(value) + mark

        change = _delta(figure(overall["index_pct"]), old_value("overall", ""))
        lines.append(
            f"{text['overall']}: {shown(overall)} ({_number(figure(overall['ci_low']))}–"
            f"{_number(figure(overall['ci_high']))})"
            + (f"{change} {text['vs'].format(period=before.label)}" if change else "")
        )
        lines.append(text["elements"])
        labels = dict(self.layout.elements)
        elements = mine[mine["scope"] == "element"]
        for _, element in elements.iterrows():
            element_code = str(element["code"])
            lines.append(
                f"• {labels.get(element_code, element_code)}: {shown(element)} "
                f"(n={int(element['n_valid'])})"
                f"{_delta(figure(element['index_pct']), old_value('element', element_code))}"
            )
        if low_marks:
            lines.append(text["low"])
        lines.append(await self._as_of_line(text))
        # Drawn and written in worker threads, off the event loop that answers respondents.
        chart = await asyncio.to_thread(
            element_chart_png,
            f"{name} · {period.label}",
            [labels.get(str(code_), str(code_)) for code_ in elements["code"]],
            [figure(value) for value in elements["index_pct"]],
            [old_value("element", str(code_)) for code_ in elements["code"]],
            current_label=period.label,
            previous_label=before.label,
        )
        return [
            StaffReply("\n".join(lines)),
            StaffReply(
                f"{name} · {period.label}", image=chart, filename=f"sipas-{code}-{period.label}.png"
            ),
        ]

    # --- /ranking [period] ------------------------------------------------------------------

    async def _ranking_level(self, scope: Scope, period: Period) -> str:
        """Communes for whoever sees several; otherwise the counters of their units."""
        if scope.everything:
            return "commune"
        table = await self._table(period, "commune")
        communes = {code for code in table["unit_code"] if scope.allows("commune", str(code))}
        return "commune" if len(communes) > 1 else "service_point"

    async def _ranking(
        self, scope: Scope, args: Sequence[str], text: dict[str, str]
    ) -> list[StaffReply]:
        period, _rest, bad = self._period(args)
        if period is None:
            return [StaffReply(text["bad_period"].format(text=bad))]
        level = await self._ranking_level(scope, period)
        table = await self._table(period, level)
        overall = table[(table["respondent_type"] == "all") & (table["scope"] == "overall")]
        overall = overall[overall["unit_code"].map(lambda code: scope.allows(level, str(code)))]
        if overall.empty:
            return [StaffReply(text["no_ranking"].format(period=period.label))]
        shown = overall[~overall["suppressed"] & overall["index_pct"].notna()].sort_values(
            ["index_pct", "n_respondents", "unit_code"], ascending=[False, False, True]
        )
        hidden = overall[overall["suppressed"] | overall["index_pct"].isna()]
        lines = [text["ranking"].format(level=text[level], period=period.label)]
        entries = [
            f"{place}. {row['unit_name']}: {_number(figure(row['index_pct']))} "
            f"({_number(figure(row['ci_low']))}–{_number(figure(row['ci_high']))}) n={int(row['n_respondents'])}"
            + (" *" if bool(row["low_reliability"]) else "")
            for place, (_, row) in enumerate(shown.iterrows(), start=1)
        ]
        entries += [
            f"– {row['unit_name']}: {text['hidden']} (n={int(row['n_respondents'])})"
            if bool(row["suppressed"])
            else f"– {row['unit_name']}: –"
            for _, row in hidden.iterrows()
        ]
        footer = [text["hidden_note"].format(min=self.min_cell_size), await self._as_of_line(text)]
        used = sum(len(line) + 1 for line in lines + footer)
        for position, entry in enumerate(entries):
            if used + len(entry) + 1 > MAX_TEXT:
                lines.append(text["more"].format(count=len(entries) - position))
                break
            lines.append(entry)
            used += len(entry) + 1
        return [StaffReply("\n".join(lines + footer))]

    # --- /export [period] -------------------------------------------------------------------

    async def _export(
        self, scope: Scope, args: Sequence[str], text: dict[str, str], language: str
    ) -> list[StaffReply]:
        period, _rest, bad = self._period(args)
        if period is None:
            return [StaffReply(text["bad_period"].format(text=bad))]
        level = "agency" if scope.agencies and not scope.units else "commune"
        tables = await report_tables(
            self.database,
            self._query(period, level),
            data_as_of=await data_as_of(self.database),
            allowed=None if scope.everything else scope.allows,
        )
        document = await asyncio.to_thread(xlsx_report, tables, language=language)
        return [
            StaffReply(
                text["export"].format(period=period.label, level=text[level]),
                document=document,
                filename=report_filename(period, level),
            )
        ]
