"""`sipas invite`: mint a single-use invitation for a counter (or show the counter's static one)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import click

from bot.runtime import open_database, settings_or_exit
from storage.invitations import (
    DossierAnswered,
    DossierElsewhere,
    InvitationNotRecoverable,
    Stage,
    counter_payload,
    counter_short_code,
    dossier_reference,
    invitation_status,
    issue_invitation,
    telegram_link,
)
from storage.procedures import SUBMITTED_VIA, load_attributions
from storage.units import get_service_point
from web.survey.paths import landing_link


def _dossier(_context: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    try:
        return None if value is None else dossier_reference(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.command("invite")
@click.option("--service-point", "code", required=True, help="Counter code, e.g. HN-00004-01.")
@click.option(
    "--dossier",
    "dossier_ref",
    callback=_dossier,
    help="Dossier reference, e.g. 000.00.01.H26-250101-0001 (stored only as a keyed hash).",
)
@click.option(
    "--ttl-hours",
    type=click.IntRange(1, 24 * 365),
    help="Hours until it expires [default: SIPAS_INVITATION_TTL_HOURS].",
)
@click.option(
    "--stage",
    type=click.Choice([stage.value for stage in Stage]),
    default=Stage.RECEPTION.value,
    show_default=True,
    help="The dossier's moment: reception, or result (when the result is returned: the "
    "survey does not ask whether it was received).",
)
@click.option(
    "--counter", is_flag=True, help="Show the counter's static poster token instead (no expiry)."
)
@click.option("--procedure", "procedure_code", help="The procedure (mã TTHC), e.g. 1.001193.")
@click.option(
    "--authority",
    help="The competent authority (agency or unit code) the rating belongs to; default: the "
    "procedure's default authority, else the counter's agency.",
)
@click.option(
    "--submitted-via",
    type=click.Choice(SUBMITTED_VIA),
    default="direct",
    show_default=True,
    help="How the dossier was submitted.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for other tools.")
def invite_command(
    code: str,
    dossier_ref: str | None,
    ttl_hours: int | None,
    stage: str,
    counter: bool,
    procedure_code: str | None,
    authority: str | None,
    submitted_via: str,
    as_json: bool,
) -> None:
    """Mint a single-use invitation and print its payload, short code and links.

    --stage result mints it for when the dossier's result is returned: the survey asks
    everything, the result questions included, without asking whether it was received.

    With --dossier, asking again for the same dossier shows the same open
    invitation, and a dossier already answered is refused: one transaction, one
    response. Without it, each call mints a new single-use invitation. With
    --counter, nothing is minted: the counter's static token is shown (the one
    on its poster, see `sipas qr`). With SIPAS_PUBLIC_URL, `page` is the
    landing page a QR code should open (browser, Zalo or Telegram).
    """
    if counter and (
        dossier_ref or ttl_hours or stage != Stage.RECEPTION or procedure_code or authority
    ):
        raise click.UsageError(
            "--counter shows the static token: no --dossier, --ttl-hours, --stage, "
            "--procedure or --authority"
        )
    settings = settings_or_exit()
    secret = settings.secret()
    ttl = timedelta(hours=ttl_hours or settings.invitation_ttl_hours)

    async def run() -> dict[str, object]:
        async with open_database(settings) as database, database.transaction() as tx:
            point = await get_service_point(tx, code)
            if point is None:
                raise click.ClickException(
                    f"no service point {code!r} (list them with `sipas units points`)"
                )
            if not point.active:
                raise click.ClickException(f"service point {code} is closed (active = false)")
            if counter:
                payload = counter_payload(secret, code)
                return {
                    "kind": "counter",
                    "service_point": code,
                    "payload": payload,
                    "short_code": counter_short_code(secret, code),
                    "telegram_link": telegram_link(settings.telegram_bot_username, payload),
                }
            attribution = (await load_attributions(tx)).resolve(
                point,
                procedure_code=procedure_code,
                authority=authority,
                submitted_via=submitted_via,
            )
            now = datetime.now(UTC)
            try:
                issued = await issue_invitation(
                    tx,
                    secret,
                    service_point_code=code,
                    now=now,
                    ttl=ttl,
                    dossier_ref=dossier_ref,
                    stage=stage,
                    attribution=attribution,
                )
            except DossierAnswered as answered:
                raise click.ClickException(
                    f"this dossier was already answered (invitation {answered.invitation.id}): "
                    "one transaction gives at most one response"
                ) from None
            except DossierElsewhere as elsewhere:
                raise click.ClickException(
                    f"this dossier has open invitation {elsewhere.invitation.id} at service point "
                    f"{elsewhere.invitation.service_point_code}: use that one"
                ) from None
            except InvitationNotRecoverable as lost:
                raise click.ClickException(
                    f"this dossier's open invitation {lost.invitation.id} cannot be shown again"
                ) from None
            invitation = issued.invitation
            return {
                "kind": "invitation",
                "id": invitation.id,
                "service_point": code,
                "status": invitation_status(invitation, now),
                "created": issued.created,
                "has_dossier": invitation.dossier_hash is not None,
                "stage": invitation.stage,
                "procedure_code": invitation.procedure_code,
                "authority": invitation.authority_code,
                "submitted_via": invitation.submitted_via,
                "expires_at": invitation.expires_at.isoformat(),
                "payload": issued.payload,
                "short_code": issued.short_code,
                "telegram_link": telegram_link(settings.telegram_bot_username, issued.payload),
            }

    shown = asyncio.run(run())
    public_url = settings.public_url
    shown["landing_page"] = landing_link(public_url, str(shown["payload"])) if public_url else None
    if as_json:
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
        return
    if shown["kind"] == "counter":
        click.echo(f"counter      {code} (static poster token: many respondents, no expiry)")
    else:
        expires = datetime.fromisoformat(str(shown["expires_at"])).astimezone(settings.zone)
        what = "dossier" if shown["has_dossier"] else "no dossier"
        again = "" if shown["created"] else ", already minted for this dossier"
        click.echo(f"invitation   {shown['id']} ({what}, single use{again})")
        click.echo(f"service pt   {code}")
        click.echo(f"stage        {shown['stage']}")
        procedure = f", procedure {shown['procedure_code']}" if shown["procedure_code"] else ""
        click.echo(f"authority    {shown['authority']}{procedure} ({shown['submitted_via']})")
        click.echo(f"expires      {expires:%Y-%m-%d %H:%M %z}")
    click.echo(f"payload      {shown['payload']}")
    click.echo(f"short code   {shown['short_code']}  (Zalo: send it to the OA)")
    click.echo(f"link         {shown['telegram_link']}")
    if shown["landing_page"]:
        click.echo(f"page         {shown['landing_page']}  (for the QR code)")
