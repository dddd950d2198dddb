"""`sipas privacy notice`: the privacy notice respondents are shown, and its version."""

from __future__ import annotations

import click

from bot.assembly import privacy_notice
from bot.runtime import settings_or_exit
from handlers.privacy_notice import CHAT, PLACES

__all__ = ["privacy_group"]


@click.group("privacy")
def privacy_group() -> None:
    """The privacy notice of Law 91/2025/QH15 shown before the survey."""


@privacy_group.command("notice")
@click.option(
    "--language",
    type=click.Choice(["vi", "en"]),
    default="vi",
    show_default=True,
    help="The language to print it in.",
)
@click.option("--short", is_flag=True, help="Only the short notice shown first in the chat.")
@click.option(
    "--place",
    type=click.Choice(PLACES),
    default=CHAT,
    show_default=True,
    help="Where the survey is taken: the notice says how each right is used there.",
)
def notice_command(language: str, short: bool, place: str) -> None:
    """Print the notice as the settings fill it in, under its version.

    The version is what each response records as the notice its respondent agreed to
    (responses.notice_version): keep the text of every version you publish. It changes
    with any word of the notice, in either language, and so with SIPAS_DATA_CONTROLLER,
    SIPAS_DATA_CONTROLLER_PROVINCE, SIPAS_DATA_CONTROLLER_CONTACT, SIPAS_RETENTION_MONTHS,
    SIPAS_RESUME_WINDOW_HOURS and SIPAS_SENSITIVE_ITEMS. One version covers the wording of
    every place (chat, web, kiosk).
    """
    notice = privacy_notice(settings_or_exit())
    click.echo(f"version {notice.version}\n")
    click.echo(notice.short(language, place) if short else notice.full(language, place))
