"""`sipas rounds`: survey rounds (đợt khảo sát): create from a file, list, show, close, mint invitations."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from analytics.rounds import progress_table, units_rated
from bot.runtime import open_database, settings_or_exit
from questionnaires.rounds import CITIZEN_ROUND, RoundPlan, read_round_file
from storage.invitations import telegram_link
from storage.models import SurveyRound
from storage.rounds import (
    RoundExists,
    add_round,
    close_round,
    completed_round_sessions,
    get_round,
    group_progress,
    list_rounds,
    mint_round_invitations,
)
from web.posters import Slip, render_slips
from web.survey.paths import landing_link

MAX_INVITATIONS = 5000


@click.group("rounds")
def rounds_group() -> None:
    """Survey rounds: create from a file, list, show progress, close, mint invitations.

    A round binds a questionnaire, its days, respondent groups with targets and the units
    each group rates. The continuous citizen survey is the round `sipas` (counters' posters and per-dossier
    invitations); the others are created from a round file (docs/user-guide.md).
    """


@rounds_group.command("create")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def create_command(file: Path) -> None:
    """Create a round from FILE.yaml; every problem in it is reported and nothing is stored."""
    loaded = read_round_file(file)
    settings = settings_or_exit()
    plan = loaded.plan

    async def run() -> None:
        async with open_database(settings) as database, database.transaction() as tx:
            await add_round(
                tx,
                code=plan.code,
                plan=plan.to_json(),
                questionnaire_id=loaded.questionnaire.id,
                questionnaire_version=loaded.questionnaire.version,
                questionnaire_source=loaded.questionnaire_source,
                opens_on=plan.opens,
                closes_on=plan.closes,
                now=datetime.now(UTC),
            )

    try:
        asyncio.run(run())
    except RoundExists:
        raise click.ClickException(f"round {plan.code} exists already") from None
    targets = ", ".join(f"{g.code} {g.target}" for g in plan.groups)
    click.echo(
        f"round {plan.code}: {loaded.questionnaire.id} {loaded.questionnaire.version}, "
        f"{plan.opens} to {plan.closes}, {len(plan.units)} units, groups {targets}"
    )


@rounds_group.command("list")
def list_command() -> None:
    """The rounds: the citizen survey's, then the stored ones, newest first."""
    settings = settings_or_exit()

    async def run() -> list[SurveyRound]:
        async with open_database(settings) as database, database.reading() as tx:
            return await list_rounds(tx)

    click.echo(f"{CITIZEN_ROUND:<24} continuous  the citizen survey (counters and dossiers)")
    today = datetime.now(settings.zone).date()
    for survey_round in asyncio.run(run()):
        status = _status(survey_round, today)
        dates = f"{survey_round.opens_on} to {survey_round.closes_on}"
        click.echo(
            f"{survey_round.code:<24} {status:<11} {dates}  "
            f"{survey_round.questionnaire_id} {survey_round.questionnaire_version}"
        )


def _status(survey_round: SurveyRound, today: Any) -> str:
    if survey_round.closed_at is not None or today > survey_round.closes_on:
        return "closed"
    return "open" if today >= survey_round.opens_on else "not open"


async def _round_or_exit(tx: Any, code: str) -> SurveyRound:
    survey_round = await get_round(tx, code)
    if survey_round is None:
        raise click.ClickException(f"no round {code!r} (list them with `sipas rounds list`)")
    return survey_round


@rounds_group.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for other tools.")
def show_command(code: str, as_json: bool) -> None:
    """A round's progress: per group target, invited, started, completed; per rated unit the
    completed forms that rated it."""
    settings = settings_or_exit()

    async def run() -> tuple[SurveyRound, Any, dict[str, int]]:
        async with open_database(settings) as database, database.reading() as tx:
            survey_round = await _round_or_exit(tx, code)
            progress = await group_progress(tx, code)
            rated = units_rated(await completed_round_sessions(tx, code))
            return survey_round, progress, rated

    survey_round, progress, rated = asyncio.run(run())
    plan = RoundPlan.from_json(survey_round.plan)
    table = progress_table(plan, progress)
    today = datetime.now(settings.zone).date()
    if as_json:
        shown = {
            "code": plan.code,
            "status": _status(survey_round, today),
            "groups": table.to_dict(orient="records"),
            "units": [{"code": u.code, "ratings": rated.get(u.code, 0)} for u in plan.units],
        }
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
        return
    click.echo(f"round {plan.code} ({_status(survey_round, today)}): {plan.title['vi']}")
    click.echo(f"{'group':<16} {'target':>6} {'invited':>7} {'started':>7} {'completed':>9}")
    for row in table.itertuples(index=False):
        click.echo(
            f"{row.group:<16} {row.target:>6} {row.invited:>7} {row.started:>7} "
            f"{row.completed:>9}  {row.completed} of {row.target}"
        )
    click.echo("rated unit       ratings")
    for unit in plan.units:
        click.echo(f"{unit.code:<16} {rated.get(unit.code, 0):>7}  {unit.named('vi')}")


@rounds_group.command("close")
@click.argument("code")
def close_command(code: str) -> None:
    """Close a round now: its invitations open nothing from now on."""
    settings = settings_or_exit()

    async def run() -> None:
        async with open_database(settings) as database, database.transaction() as tx:
            await close_round(tx, await _round_or_exit(tx, code), datetime.now(UTC))

    asyncio.run(run())
    click.echo(f"round {code} closed")


@rounds_group.command("invite")
@click.option("--round", "code", required=True, help="The round's code.")
@click.option("--group", "group_code", required=True, help="The respondent group's code.")
@click.option("--count", type=click.IntRange(1, MAX_INVITATIONS), required=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder for ROUND-GROUP-invitations.csv and ROUND-GROUP-slips.pdf.",
)
def invite_command(code: str, group_code: str, count: int, out: Path) -> None:
    """Mint COUNT single-use invitations of one group: a CSV (code, deep links, short code)
    for sending by Zalo or e-mail, and a PDF of slips to print, one code each.

    Nothing records who receives which code: hand them out as they come.
    """
    settings = settings_or_exit()
    secret = settings.secret()

    async def run() -> tuple[RoundPlan, list[Any]]:
        async with open_database(settings) as database, database.transaction() as tx:
            survey_round = await _round_or_exit(tx, code)
            plan = RoundPlan.from_json(survey_round.plan)
            if group_code not in {g.code for g in plan.groups}:
                known = ", ".join(g.code for g in plan.groups)
                raise click.ClickException(f"round {code} has no group {group_code!r} ({known})")
            if _status(survey_round, datetime.now(settings.zone).date()) == "closed":
                raise click.ClickException(f"round {code} is closed")
            minted = await mint_round_invitations(
                tx, secret, survey_round, group_code, count, datetime.now(UTC)
            )
            return plan, minted

    plan, minted = asyncio.run(run())
    group = plan.group(group_code)
    rows = []
    for invitation in minted:
        link = telegram_link(settings.telegram_bot_username, invitation.payload)
        page = landing_link(settings.public_url, invitation.payload) if settings.public_url else ""
        rows.append((invitation.short_code, invitation.payload, link, page))
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{code}-{group_code}"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["short_code", "payload", "telegram_link", "page"])
    writer.writerows(rows)
    csv_path = out / f"{stem}-invitations.csv"
    csv_path.write_text(buffer.getvalue(), encoding="utf-8")
    lines = (
        plan.title["vi"],
        group.label["vi"],
        "Quét mã QR bằng điện thoại (Telegram), hoặc gửi mã dưới đây cho Zalo OA. "
        "Mã dùng một lần, không gắn với tên người nhận.",
    )
    slips = [Slip(lines, page or link, short) for short, _payload, link, page in rows]
    pdf_path = out / f"{stem}-slips.pdf"
    pdf_path.write_bytes(render_slips(slips, title=f"{code} {group_code}"))
    click.echo(f"{len(rows)} invitations of group {group_code} in round {code}")
    click.echo(f"{csv_path}")
    click.echo(f"{pdf_path}")
    if plan.reminder is not None:
        click.echo(f"text to send with them: {plan.reminder['vi']}")
