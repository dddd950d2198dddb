"""Assembly shared by every command: logging, settings, and an up-to-date database.

Light to import, as every command module imports it: settings, the database and the
migrations are imported when first used, not when `sipas --help` lists the commands.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from problems import Problem

if TYPE_CHECKING:
    from bot.settings import Settings
    from storage.db import Database


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request URL, and a Bot API URL carries the bot token; aiosqlite logs
    # every statement with its parameters at DEBUG (comments, hashes); Alembic and fontTools
    # (posters) chatter at INFO about every migration check and glyph subset.
    for noisy in ("httpx", "aiosqlite", "alembic", "fontTools"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    from bot.log_redaction import redact_secrets_in_logs  # it knows the storage's token shapes

    redact_secrets_in_logs()


def settings_or_exit() -> Settings:
    """The settings, with logging configured; else SettingsError naming every bad one.

    The command line reports the error and exits (`bot.cli`).
    """
    from bot.settings import SettingsError, load_settings

    settings = load_settings()
    configure_logging(settings.log_level)
    problems = _definition_problems(settings)
    if problems:
        raise SettingsError(problems)
    return settings


def _definition_problems(settings: Settings) -> list[Problem]:
    """The questionnaire and method named by the settings must load, before any work starts."""
    # Imported here: assembly pulls in the whole engine, which `--help` does not need.
    from bot.assembly import method_for, questionnaire_definition

    problems: list[Problem] = []
    try:
        questionnaire = questionnaire_definition(settings)
    except (KeyError, OSError, ValueError) as error:
        problems.append(
            Problem(
                column="SIPAS_QUESTIONNAIRE",
                message=f"no questionnaire {settings.questionnaire!r} ({error})",
            )
        )
    else:
        try:
            questionnaire.asking(settings.sensitive_items, profile=settings.ask_profile)
        except ValueError as error:
            problems.append(Problem(column="SIPAS_SENSITIVE_ITEMS", message=str(error)))
    try:
        method_for(settings)
    except (KeyError, OSError, ValueError) as error:
        problems.append(
            Problem(column="SIPAS_METHOD", message=f"no method {settings.method!r} ({error})")
        )
    return problems


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """`asyncio.run`, on uvloop when it is installed (uvicorn[standard] brings it).

    Every database statement and Bot API call is a few event-loop round trips; uvloop
    makes each cheaper (about a sixth of the engine's CPU per event on SQLite).
    """
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    """The configured database; the embedded default is migrated on the way in.

    A server database is migrated only by `sipas db upgrade`, as an operator's
    deliberate step, never as a side effect of starting a worker.
    """
    from storage.db import Database
    from storage.migrate import upgrade

    if settings.embedded:
        await upgrade(settings.database_url)
    database = Database(settings.database_url)
    try:
        yield database
    finally:
        await database.dispose()
