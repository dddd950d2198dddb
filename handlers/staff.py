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
import re
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from analytics.days import Period, parse_period, period_of, reporting_day
from analytics.indices import complete_overall
from analytics.layout import ItemLayout
from analytics.method import Method
from analytics.query import ReportQuery
from analytics.report import index_table
from analytics.wording import (
    CAVEAT,
    interval,
    language_of,
    local_time,
    low_reliability_note,
    number,
    period_name,
    role_name,
)
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


# Words that begin a period written in two words: "tháng 11/2026", "quý 4/2026", "năm 2026".
_PERIOD_WORDS = frozenset({"tháng", "thang", "quý", "quy", "tuần", "tuan", "năm", "nam"})
# A word meant as a period, though not one parse_period understands (T11, 13/2026, 2026-13).
_PERIOD_LIKE = re.compile(r"^(T\d{1,2}|Q[1-4IV]+|\d{4}-.*|.*/.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class StaffReply(Reply):
    """A reply that may carry a picture (`image`, PNG) or a file (`document`) named `filename`;
    `fallback` is what to say instead when the picture or file cannot be delivered."""

    image: bytes | None = None
    document: bytes | None = None
    filename: str | None = None
    fallback: str | None = None


def previous_period(period: Period) -> Period:
    """The period of the same kind just before this one (2026-10 before 2026-11)."""
    return period_of(period.start - timedelta(days=1), period.kind)


def change_text(row: pd.Series, before: float | None, language: str) -> str:
    """The change since the previous period: an arrow only when the earlier figure lies
    outside this period's 95 % interval; "≈" when the change is within it (no clear change)."""
    now, low, high = figure(row["index_pct"]), figure(row["ci_low"]), figure(row["ci_high"])
    if now is None or before is None:
        return ""
    change = number(now - before, language)
    if not change.startswith("-"):
        change = "+" + change
    inside = low is not None and high is not None and low <= before <= high
    arrow = "≈" if inside else "▲" if now > before else "▼"
    return f" {arrow} {change}"


@dataclass(frozen=True)
class ChartBar:
    """One element of the chat chart: its name, this period's figure and interval, the
    previous period's figure, and whether this period's figure has low reliability."""

    label: str
    value: float | None
    low: float | None
    high: float | None
    previous: float | None
    low_reliability: bool


def element_chart_png(
    title: str,
    bars: Sequence[ChartBar],
    *,
    current_label: str,
    previous_label: str,
    note: str,
    language: str = "vi",
) -> bytes:
    """A horizontal bar chart (PNG) of element indices, this period (with its 95 % interval)
    beside the previous one, readable on a phone: text of 11 pt or more, wrapped titles and
    names, the legend below the bars, a * on low-reliability figures."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure_ = Figure(figsize=(6.4, 1.05 * len(bars) + 2.8), dpi=120)
    FigureCanvasAgg(figure_)
    axes = figure_.add_subplot()
    rows = list(range(len(bars)))[::-1]
    height = 0.38
    current = [bar.value or 0.0 for bar in bars]
    whiskers = [
        [
            (bar.value - bar.low) if bar.value is not None and bar.low is not None else 0.0
            for bar in bars
        ],
        [
            (bar.high - bar.value) if bar.value is not None and bar.high is not None else 0.0
            for bar in bars
        ],
    ]
    axes.barh(
        [row + height / 2 for row in rows],
        current,
        height,
        xerr=whiskers,
        error_kw={"ecolor": "#222222", "capsize": 4, "elinewidth": 1.2},
        label=current_label,
        color="#1f5f99",
    )
    axes.barh(
        [row - height / 2 for row in rows],
        [bar.previous or 0.0 for bar in bars],
        height,
        label=previous_label,
        color="#a9c4de",
    )
    for row, bar in zip(rows, bars, strict=True):
        end = bar.high if bar.high is not None else bar.value or 0.0
        text = number(bar.value, language) + (" *" if bar.low_reliability else "")
        axes.text(end + 1.5, row + height / 2, text, va="center", fontsize=11)
    axes.set_yticks(rows, labels=[textwrap.fill(bar.label, 18) for bar in bars], fontsize=11)
    axes.set_xlim(0, 118)
    axes.set_xlabel("%", fontsize=11)
    axes.tick_params(axis="x", labelsize=11)
    axes.set_title(textwrap.fill(title, 42), fontsize=12)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=11, frameon=False)
    figure_.text(0.01, 0.01, textwrap.fill(note, 80), fontsize=11, va="bottom")
    figure_.tight_layout(rect=(0, 0.08, 1, 1))
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
        dashboard_url: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.database = database
        self.dashboard_url = dashboard_url
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
        language = language_of(locale)
        text = load_catalog().section(language, "staff.")
        text["language"] = language
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
        return await self._export(scope, args, text)

    async def help_text(
        self, channel: str, platform_user_id: str, *, locale: str | None = None
    ) -> str | None:
        """The staff commands, for /help from enrolled staff; None for anyone else."""
        async with self.database.reading() as session:
            account = await staff_by_chat(session, channel, platform_user_id)
        if account is None:
            return None
        return load_catalog().section(language_of(locale), "staff.")["help"]

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
                role = role_name(account.role, text["language"])
                return [StaffReply(text["enrolled"].format(name=account.name, role=role))]
        self._failed_tries[tries_key] = [*recent, now]
        return None

    # --- shared -----------------------------------------------------------------------------

    def _this_month(self) -> Period:
        return period_of(reporting_day(self.clock(), self.zone), "month")

    def _period(
        self, words: Sequence[str], *, units: int = 0
    ) -> tuple[Period | None, list[str], str | None]:
        """The period among the words (default: this month), up to `units` other words, and
        what was not understood: a word that is not a period where no unit may stand is an
        error, never a silent fall-back to this month."""
        period: Period | None = None
        rest: list[str] = []
        position = 0
        while position < len(words):
            word = words[position]
            if word.lower() in _PERIOD_WORDS and position + 1 < len(words):
                position += 1
                word = f"{word} {words[position]}"
            position += 1
            try:
                period = parse_period(word)
                continue
            except ValueError:
                if " " in word or _PERIOD_LIKE.match(word) or len(rest) >= units:
                    return None, rest, word
            rest.append(word)
        return period or self._this_month(), rest, None

    async def _as_of_line(self, text: dict[str, str]) -> str:
        when = await data_as_of(self.database)
        if when is None:
            return text["never"]
        return text["as_of"].format(when=local_time(when, self.zone, text["language"]))

    def _bad_period(self, text: dict[str, str], bad: str | None) -> list[StaffReply]:
        return [StaffReply(text["bad_period"].format(text=bad or ""))]

    def _download_hint(self, text: dict[str, str], period: Period, level: str) -> str:
        """Where to download what a failed upload carried: the dashboard's report."""
        if self.dashboard_url is None:
            return text["upload_failed"]
        link = f"{self.dashboard_url}/download/report.xlsx?period={period.label}&level={level}"
        return text["upload_failed_link"].format(link=link)

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
        period, rest, bad = self._period(args, units=1)
        if period is None:
            return self._bad_period(text, bad)
        language = text["language"]
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
        shown_period = period_name(period, language)
        if mine.empty:
            return [StaffReply(text["no_data"].format(name=code, period=shown_period))]
        overall = mine[mine["scope"] == "overall"].iloc[0]
        name = str(overall["unit_name"])
        lines = [
            text["heading"].format(name=name, code=code, period=shown_period),
            text["respondents"].format(n=int(overall["n_respondents"])),
        ]
        if bool(overall["suppressed"]):
            lines.append(f"{text['overall']}: {text['suppressed']}")
            lines.append(text["hidden_note"].format(min=self.min_cell_size))
            lines.append(await self._as_of_line(text))
            lines.append(CAVEAT[language])
            return [StaffReply("\n".join(lines))]
        old = earlier[(earlier["respondent_type"] == "all")].set_index(["scope", "code"])

        def old_value(scope_: str, code_: str) -> float | None:
            return (
                figure(old.loc[(scope_, code_), "index_pct"])
                if (scope_, code_) in old.index
                else None
            )

        def shown(row: pd.Series) -> str:
            return number(figure(row["index_pct"]), language) + (
                " *" if bool(row["low_reliability"]) else ""
            )

        shown_before = period_name(before, language)
        change = change_text(overall, old_value("overall", ""), language)
        lines.append(
            f"{text['overall']}: {shown(overall)} "
            f"({interval(figure(overall['ci_low']), figure(overall['ci_high']), language)})"
            + (f"{change} {text['vs'].format(period=shown_before)}" if change else "")
        )
        lines.append(text["elements"])
        labels = dict(self.layout.elements)
        elements = mine[mine["scope"] == "element"]
        bars = []
        for _, element in elements.iterrows():
            element_code = str(element["code"])
            before_value = old_value("element", element_code)
            lines.append(
                f"• {labels.get(element_code, element_code)}: {shown(element)} "
                f"(n={int(element['n_valid'])})"
                f"{change_text(element, before_value, language)}"
            )
            bars.append(
                ChartBar(
                    labels.get(element_code, element_code),
                    figure(element["index_pct"]),
                    figure(element["ci_low"]),
                    figure(element["ci_high"]),
                    before_value,
                    bool(element["low_reliability"]),
                )
            )
        if any(bar.low_reliability for bar in bars) or bool(overall["low_reliability"]):
            lines.append(low_reliability_note(language))
        lines.append(text["change_note"])
        lines.append(await self._as_of_line(text))
        lines.append(CAVEAT[language])
        replies = [StaffReply("\n".join(lines))]
        if all(bar.value is None for bar in bars):
            return replies
        # Drawn in a worker thread, off the event loop that answers respondents.
        chart = await asyncio.to_thread(
            element_chart_png,
            f"{name} · {shown_period}",
            bars,
            current_label=shown_period,
            previous_label=shown_before,
            note=text["chart_note"],
            language=language,
        )
        return [
            *replies,
            StaffReply(
                f"{name} · {shown_period}",
                image=chart,
                filename=f"sipas-{code}-{period.label}.png",
                fallback=self._download_hint(text, period, level),
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
            return self._bad_period(text, bad)
        language = text["language"]
        shown_period = period_name(period, language)
        level = await self._ranking_level(scope, period)
        table = await self._table(period, level)
        overall = table[(table["respondent_type"] == "all") & (table["scope"] == "overall")]
        overall = overall[overall["unit_code"].map(lambda code: scope.allows(level, str(code)))]
        if overall.empty:
            return [StaffReply(text["no_ranking"].format(period=shown_period))]
        figured = overall[~overall["suppressed"] & overall["index_pct"].notna()].sort_values(
            ["index_pct", "n_respondents", "unit_code"], ascending=[False, False, True]
        )
        # Only overall indices over every element are compared; the others are listed apart.
        complete = complete_overall(figured, self.layout)
        shown, partial = figured[complete], figured[~complete]
        hidden = overall[overall["suppressed"] | overall["index_pct"].isna()]
        lines = [text["ranking"].format(level=text[level], period=shown_period)]

        def ranked_line(mark: str, row: pd.Series) -> str:
            low, high = figure(row["ci_low"]), figure(row["ci_high"])
            return (
                f"{mark} {row['unit_name']}: "
                f"{number(figure(row['index_pct']), language)} ({interval(low, high, language)}) "
                f"n={int(row['n_respondents'])}" + (" *" if bool(row["low_reliability"]) else "")
            )

        entries: list[str] = []
        above_low: float | None = None
        overlaps = False
        for place, (_, row) in enumerate(shown.iterrows(), start=1):
            low, high = figure(row["ci_low"]), figure(row["ci_high"])
            # ≈: this unit's interval overlaps the one ranked just above: no clear difference.
            overlap = above_low is not None and high is not None and high >= above_low
            overlaps = overlaps or overlap
            above_low = low
            entries.append(ranked_line(f"{'≈' if overlap else ''}{place}.", row))
        entries += [
            ranked_line("–", row)
            + " · "
            + text["partial"].format(
                used=int(row["elements_used"]), total=len(self.layout.elements)
            )
            for _, row in partial.iterrows()
        ]
        entries += [
            f"– {row['unit_name']}: {text['hidden']} (n={int(row['n_respondents'])})"
            if bool(row["suppressed"])
            else f"– {row['unit_name']}: –"
            for _, row in hidden.iterrows()
        ]
        footer = [
            *([text["overlap_note"]] if overlaps else []),
            text["hidden_note"].format(min=self.min_cell_size),
            await self._as_of_line(text),
            CAVEAT[language],
        ]
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
        self, scope: Scope, args: Sequence[str], text: dict[str, str]
    ) -> list[StaffReply]:
        period, _rest, bad = self._period(args)
        if period is None:
            return self._bad_period(text, bad)
        language = text["language"]
        level = "agency" if scope.agencies and not scope.units else "commune"
        tables = await report_tables(
            self.database,
            self._query(period, level),
            data_as_of=await data_as_of(self.database),
            allowed=None if scope.everything else scope.allows,
        )
        shown_period = period_name(period, language)
        if tables.units.empty:
            return [StaffReply(text["no_ranking"].format(period=shown_period))]
        document = await asyncio.to_thread(xlsx_report, tables, language=language, zone=self.zone)
        return [
            StaffReply(
                text["export"].format(period=shown_period, level=text[level]),
                document=document,
                filename=report_filename(period, level),
                fallback=self._download_hint(text, period, level),
            )
        ]
