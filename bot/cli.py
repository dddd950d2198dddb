"""The `sipas` command line: one subcommand per job, each with its own --help.

Input refused anywhere below (`problems.ProblemsFound`, raised by any layer) is reported
here, once, for every subcommand: one line per problem, then what became of the work.
"""

from __future__ import annotations

from typing import NoReturn

import click

from bot.commands.aggregate import aggregate_command
from bot.commands.apikey import apikey_group
from bot.commands.chat import chat_command
from bot.commands.db import db_group
from bot.commands.demo import demo_command
from bot.commands.export import export_command
from bot.commands.invite import invite_command
from bot.commands.qr import qr_command
from bot.commands.questionnaire import questionnaire_group
from bot.commands.responses import responses_group
from bot.commands.serve import serve_command
from bot.commands.simulate import simulate_command
from bot.commands.staff import staff_group
from bot.commands.summary import summary_command
from bot.commands.units import units_group
from bot.commands.zalo import zalo_group
from problems import ProblemsFound, tally


def report(refusal: ProblemsFound) -> NoReturn:
    """Every problem on a line of its own, then the summary as the error; exit status 1."""
    if refusal.summary is None and len(refusal.problems) == 1:
        raise click.ClickException(str(refusal.problems[0]))
    for problem in refusal.problems:
        click.echo(str(problem), err=True)
    raise click.ClickException(refusal.summary or tally(refusal.problems))


class _Sipas(click.Group):
    """The root group: refusals reported once, for every subcommand."""

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


cli.add_command(aggregate_command)
cli.add_command(apikey_group)
cli.add_command(chat_command)
cli.add_command(db_group)
cli.add_command(demo_command)
cli.add_command(export_command)
cli.add_command(invite_command)
cli.add_command(qr_command)
cli.add_command(questionnaire_group)
cli.add_command(responses_group)
cli.add_command(serve_command)
cli.add_command(staff_group)
cli.add_command(summary_command)
cli.add_command(simulate_command)
cli.add_command(units_group)
cli.add_command(zalo_group)


def main() -> None:
    cli(prog_name="sipas")
