"""`sipas zalo`: store the OA's first refresh token, show the token state; and the Zalo wiring `serve` uses."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import click
import httpx
from fastapi import APIRouter

from bot.runtime import open_database, settings_or_exit
from bot.settings import Settings
from channels.zalo_bot import CHANNEL as BOT_CHANNEL
from channels.zalo_bot import ZaloBotApi, ZaloBotChannel, ZaloBotError
from channels.zalo_oa import (
    CHANNEL as OA_CHANNEL,
)
from channels.zalo_oa import (
    RefreshRefused,
    SurveyEngine,
    ZaloOAChannel,
    ZaloOAClient,
    ZaloOAConfig,
)
from handlers.survey import Reminder
from storage.credentials import CredentialStore
from storage.db import Database
from web.zalo_webhooks import (
    BOT_WEBHOOK_PATH,
    zalo_bot_webhook_router,
    zalo_domain_verification_router,
    zalo_oa_webhook_router,
)

__all__ = [
    "ZaloChannels",
    "zalo_channels",
    "zalo_group",
    "zalo_router",
    "zalo_task",
]

log = logging.getLogger(__name__)

LAUNCH_RETRY_FIRST_SECONDS = 1.0
LAUNCH_RETRY_MAX_SECONDS = 60.0
UNAUTHORIZED = 401


# --- the CLI ------------------------------------------------------------------------------------


@click.group("zalo")
def zalo_group() -> None:
    """Zalo Official Account and Zalo bot: tokens and status."""


@zalo_group.command("set-token")
@click.argument("refresh_token", required=False)
@click.option(
    "--check",
    is_flag=True,
    help="Exchange the token at once (it is single-use: the new pair is stored) to prove it works.",
)
def set_token_command(refresh_token: str | None, check: bool) -> None:
    """Store the OA's refresh token (from the Zalo for Developers page), encrypted.

    Without REFRESH_TOKEN it is asked for without echo, which keeps it out of the
    shell history. From then on the bot rotates the token pair by itself.
    """
    settings = settings_or_exit()
    token = refresh_token or click.prompt("Zalo OA refresh token", hide_input=True)

    async def run() -> None:
        async with open_database(settings) as database:
            store = CredentialStore(database, settings.secret(), OA_CHANNEL)
            version = await store.set_refresh_token(token)
            click.echo(f"Zalo OA refresh token stored (version {version}).")
            if not check:
                return
            config = _oa_config(settings)
            if config is None:
                raise click.ClickException(
                    "--check needs SIPAS_ZALO_OA_APP_ID, SIPAS_ZALO_APP_SECRET_KEY and "
                    "SIPAS_ZALO_OA_SECRET_KEY"
                )
            client = ZaloOAClient(config)
            try:
                stored = await store.refresh(client.exchange, seen_version=version)
            except RefreshRefused as error:
                raise click.ClickException(
                    f"Zalo refused this refresh token (error {error.code}): take a new one "
                    "from the OA's page on developers.zalo.me and run set-token again"
                ) from None
            finally:
                await client.close()
            click.echo(f"Checked: access token valid until {_when(stored.access_expires_at)}.")

    asyncio.run(run())


@zalo_group.command("status")
def status_command() -> None:
    """Show which Zalo channels are configured and the state of the OA tokens (never the tokens)."""
    settings = settings_or_exit()

    async def run() -> None:
        click.echo(f"Zalo OA:  {'configured' if _oa_config(settings) else 'off'}")
        click.echo(f"Zalo bot: {'configured' if settings.zalo_bot_token else 'off'}")
        async with open_database(settings) as database:
            store = CredentialStore(database, settings.secret(), OA_CHANNEL)
            stored = await store.load()
        if stored is None:
            click.echo("OA tokens: none stored; run `sipas zalo set-token`")
            return
        access = (
            f"valid until {_when(stored.access_expires_at)}"
            if stored.usable(datetime.now(UTC), timedelta(0))
            else "none yet or expired (fetched on the next message)"
        )
        click.echo(f"OA tokens: version {stored.version}, rotated {_when(stored.updated_at)}")
        click.echo(f"  access token: {access}")

    asyncio.run(run())


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "unknown"


# --- wiring for `sipas serve` ---------------------------------------------------------------------


class Service(Protocol):
    """What the wiring needs of `bot.commands.serve.Service`."""

    @property
    def settings(self) -> Settings: ...

    @property
    def database(self) -> Database: ...

    @property
    def engine(self) -> SurveyEngine: ...


def _oa_config(settings: Settings) -> ZaloOAConfig | None:
    app_secret, oa_secret = settings.zalo_app_secret_key, settings.zalo_oa_secret_key
    if not settings.zalo_oa_app_id or app_secret is None or oa_secret is None:
        return None
    return ZaloOAConfig(
        app_id=settings.zalo_oa_app_id,
        app_secret_key=app_secret.get_secret_value(),
        oa_secret_key=oa_secret.get_secret_value(),
        api_url=settings.zalo_oa_api_url,
        oauth_url=settings.zalo_oauth_url,
    )


@dataclass
class ZaloChannels:
    """The Zalo channels a running service has, built from the settings (either may be off)."""

    settings: Settings
    oa: ZaloOAChannel | None
    bot: ZaloBotChannel | None

    @classmethod
    def build(cls, settings: Settings, database: Database, engine: SurveyEngine) -> ZaloChannels:
        oa = None
        config = _oa_config(settings)
        if config is not None:
            oa = ZaloOAChannel(
                engine,
                database,
                ZaloOAClient(config),
                CredentialStore(database, settings.secret(), OA_CHANNEL),
                secret=settings.secret(),
            )
        bot = None
        if settings.zalo_bot_token is not None:
            api = ZaloBotApi(
                settings.zalo_bot_token.get_secret_value(), base_url=settings.zalo_bot_api_url
            )
            bot = ZaloBotChannel(engine, api)
        return cls(settings, oa, bot)

    def router(self) -> APIRouter:
        """`/webhooks/zalo-oa` when the OA is on; `/webhooks/zalo-bot` when the bot uses a webhook;
        the domain-verification page when one is configured."""
        router = APIRouter()
        page = self.settings.zalo_domain_verification_file
        if page is not None:
            router.include_router(zalo_domain_verification_router(page))
        config = self.oa.config if self.oa is not None else None
        if self.oa is not None and config is not None:
            router.include_router(
                zalo_oa_webhook_router(
                    self.oa.submit, app_id=config.app_id, oa_secret_key=config.oa_secret_key
                )
            )
        secret = self._bot_webhook_secret()
        if self.bot is not None and secret is not None:
            router.include_router(zalo_bot_webhook_router(self.bot.submit, secret))
        return router

    def _bot_webhook_secret(self) -> str | None:
        secret = self.settings.zalo_bot_webhook_secret
        if self.settings.public_url is None or secret is None:
            return None
        return secret.get_secret_value()

    async def run(self) -> None:
        """Launch the bot (webhook or polling), then keep the channels until cancelled; close them."""
        try:
            if self.oa is not None:
                log.info("Zalo OA: webhook at /webhooks/zalo-oa")
            if self.bot is not None:
                await self._launch_bot(self.bot)
            await asyncio.Event().wait()  # until serve cancels its background tasks
        finally:
            if self.bot is not None:
                await self.bot.close()
            if self.oa is not None:
                await self.oa.close()

    async def _launch_bot(self, bot: ZaloBotChannel) -> None:
        secret = self._bot_webhook_secret()
        url = f"{self.settings.public_url}{BOT_WEBHOOK_PATH}" if secret is not None else None
        delay = LAUNCH_RETRY_FIRST_SECONDS
        while True:
            try:
                await bot.launch(webhook_url=url, webhook_secret=secret)
                return
            except ZaloBotError as error:
                if error.code == UNAUTHORIZED:
                    log.error("Zalo refused SIPAS_ZALO_BOT_TOKEN: the Zalo bot stays off")
                    return
                log.warning("Zalo bot: launch refused (%d); retrying", error.code)
            except httpx.HTTPError as error:
                log.warning("Zalo bot unreachable (%s); retrying", type(error).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAUNCH_RETRY_MAX_SECONDS)

    async def send_reminder(self, reminder: Reminder) -> bool:
        """Deliver a reminder of a Zalo channel that is on; False otherwise (or when skipped)."""
        if reminder.channel == OA_CHANNEL and self.oa is not None:
            return await self.oa.send_reminder(reminder.address, reminder.replies)
        if reminder.channel == BOT_CHANNEL and self.bot is not None:
            return await self.bot.send_reminder(reminder.address, reminder.replies)
        return False


# One set of channels per service object: the router factory and the background task
# factory are called separately by `serve` and must share the channels.
_BUILT: dict[int, tuple[Service, ZaloChannels]] = {}


def zalo_channels(service: Service) -> ZaloChannels:
    """The Zalo channels of `service`, built on first use."""
    built = _BUILT.get(id(service))
    if built is None or built[0] is not service:
        built = (service, ZaloChannels.build(service.settings, service.database, service.engine))
        _BUILT[id(service)] = built
    return built[1]


def zalo_router(service: Service) -> APIRouter:
    """Router factory for `serve`: the Zalo webhook routes that are on."""
    return zalo_channels(service).router()


async def zalo_task(service: Service) -> None:
    """Background task factory for `serve`: runs the Zalo channels until cancelled."""
    try:
        await zalo_channels(service).run()
    finally:
        with contextlib.suppress(KeyError):
            del _BUILT[id(service)]
