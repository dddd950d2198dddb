"""`sipas chat`: take the survey in the terminal, against the configured database."""

from __future__ import annotations

import asyncio

import click

from bot.assembly import build_engine
from bot.runtime import open_database, settings_or_exit
from channels.console import ConsoleSession
from storage.invitations import counter_payload
from storage.units import get_service_point


async def read_line(prompt: str) -> str | None:
    """A line typed at the terminal, or None when input ends."""
    try:
        return await asyncio.to_thread(input, prompt)
    except EOFError:
        return None


@click.command("chat")
@click.option(
    "--service-point", "service_point", help="Counter code: start as if its poster QR was scanned."
)
@click.option(
    "--invitation", "invitation", help="An invitation payload (i_…) or 8-character short code."
)
@click.option(
    "--language", type=click.Choice(["vi", "en"]), default=None, help="Language to start in."
)
def chat_command(service_point: str | None, invitation: str | None, language: str | None) -> None:
    """Run the whole survey conversation in the terminal (numbered choices).

    Type the number of a choice, 0 to skip, < to go back, or a command:
    /help, /language, /cancel, /delete.
    """
    if (service_point is None) == (invitation is None):
        raise click.UsageError("give exactly one of --service-point CODE or --invitation PAYLOAD")
    settings = settings_or_exit()
    payload = invitation or counter_payload(settings.secret(), service_point or "")

    async def run() -> None:
        async with open_database(settings) as database:
            if service_point is not None:
                async with database.reading() as tx:
                    if await get_service_point(tx, service_point) is None:
                        raise click.ClickException(
                            f"no service point {service_point!r} "
                            "(list them with `sipas units points`)"
                        )
            session = ConsoleSession(
                build_engine(settings, database).handle, read_line, click.echo, locale=language
            )
            await session.run(payload)

    asyncio.run(run())
