"""The `sipas` command line: one subcommand per job, each with its own --help.

A subcommand's module is imported only when that subcommand is run or its help is
asked for: `sipas --help` must not pay for pandas, the web stack and the chat
platforms that other subcommands need.

Input refused anywhere below (`problems.ProblemsFound`, raised by any layer) is reported
here, once, for every subcommand: one line per problem, then what became of the work.
"""

from __future__ import annotations

import importlib
import os
from typing import NamedTuple, NoReturn

import click

from problems import ProblemsFound, tally

# Everything the product writes (the SQLite database and its -wal and -shm files, exports,
# posters, the generated secret) is its operator's alone: files 0600, folders 0700. Added to
# the operator's own mask before any subcommand runs, so that it holds whichever library
# creates the file.
PRIVATE_UMASK = 0o077


class Subcommand(NamedTuple):
    """Where a subcommand lives, and the summary `sipas --help` lists without importing it."""

    module: str
    attribute: str
    summary: str  # the first sentence of its help (a test keeps the two the same)


SUBCOMMANDS: dict[str, Subcommand] = {
    "aggregate": Subcommand(
        "bot.commands.aggregate",
        "aggregate_command",
        "Recount daily answer counts and response-quality flags.",
    ),
    "apikey": Subcommand(
        "bot.commands.apikey",
        "apikey_group",
        "API keys for the one-stop systems that mint invitations (/api/v1).",
    ),
    "chat": Subcommand(
        "bot.commands.chat",
        "chat_command",
        "Run the whole survey conversation in the terminal (numbered choices).",
    ),
    "coverage": Subcommand(
        "bot.commands.volumes",
        "coverage_command",
        "Coverage: completed responses ÷ reported dossiers, per authority and per counter.",
    ),
    "db": Subcommand("bot.commands.db", "db_group", "Database schema."),
    "demo": Subcommand(
        "bot.commands.demo",
        "demo_command",
        "Show the whole product on a throwaway SQLite database.",
    ),
    "export": Subcommand(
        "bot.commands.export",
        "export_command",
        "Write index results for one period and level, and a manifest beside them.",
    ),
    "invite": Subcommand(
        "bot.commands.invite",
        "invite_command",
        "Mint a single-use invitation and print its payload, short code and links.",
    ),
    "kiosk": Subcommand(
        "bot.commands.kiosk",
        "kiosk_group",
        "Print a new kiosk URL for a counter's tablet (`sipas kiosk --service-point CODE`).",
    ),
    "par": Subcommand(
        "bot.commands.par",
        "par_group",
        "The PAR Index scorecard: criteria, self-assessment, appraisal, results.",
    ),
    "plan": Subcommand(
        "bot.commands.plan",
        "plan_command",
        "Compute responses needed per authority, counter and month for a target margin.",
    ),
    "privacy": Subcommand(
        "bot.commands.privacy",
        "privacy_group",
        "The privacy notice of Law 91/2025/QH15 shown before the survey.",
    ),
    "procedures": Subcommand(
        "bot.commands.procedures",
        "procedures_group",
        "The procedure catalogue: what each procedure's ratings are attributed to.",
    ),
    "qr": Subcommand(
        "bot.commands.qr",
        "qr_command",
        "Make a counter's QR poster (or one per counter with --all).",
    ),
    "questionnaire": Subcommand(
        "bot.commands.questionnaire",
        "questionnaire_group",
        "Questionnaires: check a YAML file, show a questionnaire.",
    ),
    "responses": Subcommand(
        "bot.commands.responses",
        "responses_group",
        "Responses collected outside the chat: on paper, or on a kiosk.",
    ),
    "retention": Subcommand(
        "bot.commands.retention",
        "retention_group",
        "The retention period of completed answers (SIPAS_RETENTION_MONTHS, default 24).",
    ),
    "rounds": Subcommand(
        "bot.commands.rounds",
        "rounds_group",
        "Survey rounds: create from a file, list, show progress, close, mint invitations.",
    ),
    "serve": Subcommand(
        "bot.commands.serve", "serve_command", "Run the bot until SIGINT or SIGTERM."
    ),
    "simulate": Subcommand(
        "bot.commands.simulate",
        "simulate_command",
        "Synthetic respondents take the survey at the loaded service points, "
        "through the real engine.",
    ),
    "staff": Subcommand(
        "bot.commands.staff",
        "staff_group",
        "Staff accounts: the web dashboard and the staff commands in Telegram.",
    ),
    "summary": Subcommand(
        "bot.commands.summary",
        "summary_command",
        "Show satisfaction indices for a period: every unit of a level, or one unit in detail.",
    ),
    "units": Subcommand(
        "bot.commands.units",
        "units_group",
        "Administrative units, agencies and service points (counters).",
    ),
    "volumes": Subcommand(
        "bot.commands.volumes",
        "volumes_group",
        "Dossier volumes: how many dossiers each counter received per day and authority.",
    ),
    "zalo": Subcommand(
        "bot.commands.zalo",
        "zalo_group",
        "Zalo Official Account and Zalo bot: tokens and status.",
    ),
}


def load_subcommand(name: str) -> click.Command:
    """The subcommand `name`, its module imported now."""
    where = SUBCOMMANDS[name]
    command = getattr(importlib.import_module(where.module), where.attribute)
    assert isinstance(command, click.Command), where
    return command


def report(refusal: ProblemsFound) -> NoReturn:
    """Every problem on a line of its own, then the summary as the error; exit status 1."""
    if refusal.summary is None and len(refusal.problems) == 1:
        raise click.ClickException(str(refusal.problems[0]))
    for problem in refusal.problems:
        click.echo(str(problem), err=True)
    raise click.ClickException(refusal.summary or tally(refusal.problems))


class _Sipas(click.Group):
    """The root group: subcommands imported on demand, refusals reported once."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_subcommand(cmd_name) if cmd_name in SUBCOMMANDS else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Click's own listing, shortened by click as ever, from the summaries: no
        # subcommand is imported.
        limit = formatter.width - 6 - max(len(name) for name in SUBCOMMANDS)
        rows = [
            (name, click.Command(name, help=SUBCOMMANDS[name].summary).get_short_help_str(limit))
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ProblemsFound as refusal:
            report(refusal)


@click.group(cls=_Sipas, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sipas-bot")
def cli() -> None:
    """sipas-bot: SIPAS-method satisfaction surveys of one-stop-shop users.

    Settings come from SIPAS_* environment variables or a .env file (see docs/operations.md).
    """
    os.umask(os.umask(PRIVATE_UMASK) | PRIVATE_UMASK)


def main() -> None:
    cli(prog_name="sipas")
