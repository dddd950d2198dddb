"""`sipas qr`: print-ready posters with each counter's QR code, Zalo short code and link."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from bot.runtime import open_database, settings_or_exit
from bot.settings import Settings
from storage.invitations import counter_payload, counter_short_code
from storage.units import ServicePointListing, get_service_point, list_service_points
from web.posters import (
    Paper,
    PosterContent,
    PosterFormat,
    poster_format_for,
    render_poster,
)
from web.survey.paths import qr_target


def _content(
    settings: Settings, listing: ServicePointListing, zalo_oa: str | None
) -> PosterContent:
    secret = settings.secret()
    point = listing.point
    return PosterContent(
        service_point_code=point.code,
        counter_name=point.name,
        counter_name_en=point.name_en,
        unit_name=listing.unit.full_name,
        agency_name=listing.agency.name if listing.agency else None,
        link=qr_target(
            settings.public_url, settings.telegram_bot_username, counter_payload(secret, point.code)
        ),
        opens_landing_page=settings.public_url is not None,
        short_code=counter_short_code(secret, point.code),
        zalo_oa_name=zalo_oa or (settings.data_controller if _zalo_on(settings) else None),
    )


def _zalo_on(settings: Settings) -> bool:
    """Whether a Zalo Official Account answers the short code (the poster names an OA)."""
    return settings.zalo_oa_app_id is not None and settings.zalo_oa_secret_key is not None


async def _listings(settings: Settings, code: str | None) -> list[ServicePointListing]:
    async with open_database(settings) as database, database.reading() as tx:
        if code is None:
            return await list_service_points(tx)
        point = await get_service_point(tx, code)
        if point is None:
            raise click.ClickException(
                f"no service point {code!r} (list them with `sipas units points`)"
            )
        return [item for item in await list_service_points(tx) if item.point.code == code]


@click.command("qr")
@click.option("--service-point", "code", help="The counter's code, e.g. HN-00004-01.")
@click.option("--all", "every", is_flag=True, help="One poster per active counter, into DIR.")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="FILE ending .png, .svg or .pdf; with --all, a DIR.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in PosterFormat]),
    default="pdf",
    show_default=True,
    help="With --all: the file format.",
)
@click.option(
    "--paper", type=click.Choice([p.value for p in Paper]), default="A4", show_default=True
)
@click.option(
    "--zalo-oa",
    help="The Zalo Official Account's name [default: SIPAS_DATA_CONTROLLER when a Zalo OA is "
    "configured; without one the poster does not mention Zalo].",
)
def qr_command(
    code: str | None, every: bool, out: Path, fmt: str, paper: str, zalo_oa: str | None
) -> None:
    """Make a counter's QR poster (or one per counter with --all).

    The poster carries the QR code of the counter's link, the counter's and
    unit's names, instructions in Vietnamese and English, the Zalo short code
    (when a Zalo OA is configured or --zalo-oa given), and the link in plain
    text. With SIPAS_PUBLIC_URL the code opens the counter's landing page
    (answer in the browser, on Zalo or on Telegram); without it, Telegram.
    It is black on white: print it on any printer. Each counter's token is
    signed with the deployment secret: reprint posters if SIPAS_SECRET_KEY
    changes.
    """
    if every == (code is not None):
        raise click.UsageError("give --service-point CODE or --all")
    if every and out.suffix:
        raise click.UsageError(f"with --all, --out is a folder, not {out.name}")
    try:
        poster_format = PosterFormat(fmt) if every else poster_format_for(out)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--out") from None
    settings = settings_or_exit()
    listings = asyncio.run(_listings(settings, code))
    if every:
        out.mkdir(parents=True, exist_ok=True)
    written = 0
    for listing in listings:
        if not listing.point.active:
            if not every:
                raise click.ClickException(f"service point {code} is closed (active = false)")
            click.echo(f"skipped {listing.point.code}: closed", err=True)
            continue
        target = out / f"{listing.point.code}.{poster_format.value}" if every else out
        try:
            data = render_poster(
                _content(settings, listing, zalo_oa), format=poster_format, paper=Paper(paper)
            )
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        target.write_bytes(data)
        written += 1
        click.echo(f"wrote {target} ({listing.point.code} {listing.point.name}, {paper})")
    if every:
        click.echo(f"{written} poster{'s' if written != 1 else ''} in {out}")
