"""`sipas serve`: the long-running service: Telegram, the web app and background jobs in one loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import string
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import uvicorn
from fastapi import APIRouter
from telegram.error import InvalidToken, NetworkError

from analytics.aggregate import nightly_loop
from analytics.layout import bundled_layout
from analytics.plan import plan, read_volumes
from bot.assembly import build_engine, method_for, staff_commands
from bot.commands.zalo import zalo_channels, zalo_router, zalo_task
from bot.log_redaction import redact_secrets_in_logs
from bot.maintenance import (
    MAINTENANCE_INTERVAL_SECONDS,
    Sender,
    maintain_once,
    send_result_follow_ups,
)
from bot.nightly import night_in_child
from bot.runtime import open_database, run_loop, settings_or_exit
from bot.settings import Settings
from bot.workers import run_leased, serve_workers
from channels.telegram import CHANNEL as TELEGRAM_CHANNEL
from channels.telegram import TelegramChannel, build_application
from channels.telegram_delivery import (
    FloodLimit,
    LocalFloodLimit,
    RetryingRateLimiter,
    SharedFloodLimit,
)
from handlers.staff import StaffCommands
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.aggregation_runs import last_success
from storage.db import Database
from storage.live_keyboards import LiveKeyboards
from storage.retention import RetentionPolicy
from web.app import create_app
from web.dashboard.figures import questionnaire_labels
from web.dashboard.routes import dashboard_router
from web.invitation_api import invitation_router
from web.metrics import ServiceMetrics, metrics_router
from web.survey.routes import survey_router
from web.telegram_webhook import WEBHOOK_PATH, telegram_webhook_router

__all__ = [
    "BACKGROUND_TASKS",
    "MAINTENANCE_LEASE",
    "ROUTERS",
    "RouterFactory",
    "Service",
    "TaskFactory",
    "TelegramRefused",
    "serve",
    "serve_command",
]

log = logging.getLogger(__name__)

LAUNCH_RETRY_FIRST_SECONDS = 1.0
LAUNCH_RETRY_MAX_SECONDS = 60.0
# Telegram accepts 1-256 of these in a webhook secret_token.
WEBHOOK_SECRET_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_-")
MAINTENANCE_LEASE = "maintenance"


@dataclass(frozen=True)
class Service:
    """What `serve` has built, handed to router and background-task factories."""

    settings: Settings
    database: Database
    engine: SurveyEngine
    telegram: TelegramChannel | None
    metrics: ServiceMetrics


RouterFactory = Callable[[Service], APIRouter]
TaskFactory = Callable[[Service], Coroutine[Any, Any, None]]


def _senders(service: Service) -> dict[str, Sender]:
    """What writes to a respondent unprompted (a reminder, the result questions), by channel.

    Each Zalo channel checks its own messaging window (48 h on the OA) before sending.
    """
    senders: dict[str, Sender] = {}
    if service.telegram is not None:
        senders["telegram"] = service.telegram.send
    zalo = zalo_channels(service)
    if zalo.oa is not None:
        senders["zalo_oa"] = zalo.oa.send_reminder
    if zalo.bot is not None:
        senders["zalo_bot"] = zalo.bot.send_reminder
    return senders


def _invitation_api(service: Service) -> APIRouter:
    """The invitation API for the one-stop information systems (/api/v1); a result returned
    sends the result questions it makes owed from this process, through its channels."""
    settings = service.settings
    senders = _senders(service)

    async def send_owed() -> None:
        now = datetime.now(UTC)
        owed = await service.engine.due_result_follow_ups(now)
        await send_result_follow_ups(service.engine, senders, owed, now)

    return invitation_router(
        service.database,
        secret=settings.secret(),
        bot_username=settings.telegram_bot_username,
        public_url=settings.public_url,
        default_ttl=timedelta(hours=settings.invitation_ttl_hours),
        rate_limit_per_minute=settings.api_requests_per_minute,
        send_result_follow_ups=send_owed,
    )


def _dashboard(service: Service) -> APIRouter:
    """The staff dashboard (/dashboard)."""
    settings = service.settings
    method = method_for(settings)
    return dashboard_router(
        service.database,
        secret=settings.secret(),
        zone=settings.zone,
        min_cell_size=settings.min_cell_size,
        layout=bundled_layout(method.questionnaire),
        method=method,
        labels=questionnaire_labels(load_bundled(method.questionnaire)),
        cookie_secure=(settings.public_url or "").startswith("https://"),
        plan=(
            plan(
                read_volumes(settings.plan_volumes.read_bytes(), source=str(settings.plan_volumes)),
                settings.plan_margin,
            )
            if settings.plan_volumes is not None
            else ()
        ),
        coverage_target_pct=settings.coverage_target_pct,
    )


def _web_survey(service: Service) -> APIRouter:
    """The citizens' pages (/s): QR landing pages, the web survey and counter kiosks."""
    settings = service.settings
    return survey_router(
        service.engine.handle,
        service.database,
        secret=settings.secret(),
        data_controller=settings.data_controller,
        bot_username=settings.telegram_bot_username if service.telegram is not None else None,
        # Offered only where an OA answers the short code.
        zalo_oa_id=settings.zalo_oa_id if zalo_channels(service).oa is not None else None,
        resume_window=timedelta(hours=settings.resume_window_hours),
        default_language=settings.default_language,
        starts_per_hour=settings.web_starts_per_hour,
        cookie_secure=(settings.public_url or "").startswith("https://"),
    )


def _metrics(service: Service) -> APIRouter:
    """Prometheus figures (/metrics), only when a scraper token is configured."""
    token = service.settings.metrics_token
    value = token.get_secret_value() if token is not None else ""
    if not value:
        return APIRouter()
    return metrics_router(
        service.metrics, service.database, token=value, last_aggregation=_last_aggregation
    )


async def _last_aggregation(database: Database) -> datetime | None:
    run = await last_success(database)
    return run.finished_at if run is not None else None


async def _nightly_aggregation(service: Service) -> None:
    """Every night at SIPAS_AGGREGATE_AT, catching up a missed night on start, aggregate and
    write the scoring-pipeline files to SIPAS_EXPORT_DIR, in a child process (`bot.nightly`)."""
    settings = service.settings
    await nightly_loop(
        service.database,
        aggregate_at=settings.aggregate_at,
        zone=settings.zone,
        night=lambda: night_in_child(service.database, settings),
    )


async def _maintenance(service: Service) -> None:
    """Expire abandoned sessions, send reminders and the result questions owed through the
    channel each respondent came from, erase the chat addresses kept past
    SIPAS_RESULT_FOLLOWUP_DAYS, and apply the retention period (SIPAS_RETENTION_MONTHS)
    once a day.

    Under a lease: with several workers, one of them does the rounds.
    """
    senders = _senders(service)
    retention = RetentionPolicy(service.settings.retention_months, service.settings.zone)
    await run_leased(
        service.database,
        MAINTENANCE_LEASE,
        lambda: maintain_once(service.engine, senders, datetime.now(UTC), retention=retention),
        interval=MAINTENANCE_INTERVAL_SECONDS,
    )


# The wiring point of the features: a router factory per web feature and a coroutine
# factory per background job; each gets the `Service` that `serve` has built.
ROUTERS: tuple[RouterFactory, ...] = (
    _invitation_api,
    _dashboard,
    _web_survey,
    zalo_router,
    _metrics,
)
BACKGROUND_TASKS: tuple[TaskFactory, ...] = (_nightly_aggregation, _maintenance, zalo_task)


class TelegramRefused(click.ClickException):
    """Telegram refused the configured token: no point in running."""


@click.command("serve")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes sharing the HTTP port; more than 1 needs PostgreSQL and webhooks.",
)
def serve_command(workers: int) -> None:
    """Run the bot until SIGINT or SIGTERM.

    Telegram by long polling, or by webhook at SIPAS_PUBLIC_URL/webhooks/telegram
    when SIPAS_PUBLIC_URL is set; the web app on SIPAS_HTTP_HOST:SIPAS_HTTP_PORT;
    the background jobs (nightly aggregation, expiry and reminders, Zalo token
    refresh), each under a database lease so that with several workers it runs once.
    Without SIPAS_TELEGRAM_TOKEN, Telegram stays off.
    """
    settings = settings_or_exit()
    if workers == 1:
        run_loop(serve(settings))
    else:
        serve_workers(settings, workers, serve)


async def serve(
    settings: Settings,
    *,
    routers: Sequence[RouterFactory] = ROUTERS,
    tasks: Sequence[TaskFactory] = BACKGROUND_TASKS,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
    sockets: list[socket.socket] | None = None,
    register_webhook: bool = True,
    workers: int = 1,
) -> None:
    """Serve until `stop` is set (SIGINT/SIGTERM set it when `handle_signals`), then shut down.

    `sockets`: listen there instead of binding SIPAS_HTTP_HOST:SIPAS_HTTP_PORT (the
    workers of `sipas serve --workers N` share their parent's). `register_webhook`:
    whether this process tells Telegram where the webhook is (one worker does). `workers`:
    how many processes serve the bot, each sending its share of Telegram's flood limit.

    Shutdown order: stop taking updates (polling, HTTP), let those in flight
    finish, cancel background jobs, close Telegram's connections and the database.
    """
    stop = stop or asyncio.Event()
    webhook_secret = _webhook_secret(settings)
    # Here too, not only in the logging set-up: whoever embeds `serve` gets an access log
    # without codes, payloads or keys in it.
    redact_secrets_in_logs()
    async with (
        _signals_set(stop, enabled=handle_signals),
        open_database(settings) as database,
    ):
        metrics = ServiceMetrics()
        engine = build_engine(settings, database)
        engine.observer = metrics
        telegram = _telegram_channel(
            settings, engine, staff_commands(settings, database), senders=workers
        )
        service = Service(settings, database, engine, telegram, metrics)
        app_routers = [factory(service) for factory in routers]
        if telegram is not None and webhook_secret is not None:
            app_routers.append(
                telegram_webhook_router(
                    telegram.process_webhook_update, webhook_secret, ready=telegram.ready
                )
            )
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(app_routers),
                host=settings.http_host,
                port=settings.http_port,
                log_config=None,  # the service's own logging configuration
                lifespan="on",  # routers may bring start-up and shutdown work
            )
        )
        web = asyncio.create_task(server.serve(sockets=sockets), name="web")
        background = [
            asyncio.create_task(_logged(factory(service)), name=f"background-{index}")
            for index, factory in enumerate(tasks)
        ]
        launching: asyncio.Task[None] | None = None
        failures: list[BaseException] = []

        def launched(task: asyncio.Task[None]) -> None:
            if not task.cancelled() and task.exception() is not None:
                failures.append(task.exception())  # type: ignore[arg-type]
                stop.set()

        try:
            await _until_listening(server, web)
            # What start-up built (the stack's modules, the questionnaire, compiled statements,
            # about 270,000 objects) lives as long as the process: kept out of the collector's
            # full passes, which otherwise walk it all and stop every update in flight meanwhile.
            gc.freeze()
            log.info("web app on http://%s:%d", settings.http_host, settings.http_port)
            if settings.data_controller_contact is None:
                log.warning(
                    "SIPAS_DATA_CONTROLLER_CONTACT is not set: the privacy notice names the "
                    "one-stop shop as the contact for questions and complaints"
                )
            if telegram is None:
                log.info("Telegram is off: SIPAS_TELEGRAM_TOKEN is not set")
            else:
                launching = asyncio.create_task(
                    _launch(telegram, settings, webhook_secret, register=register_webhook),
                    name="telegram-launch",
                )
                launching.add_done_callback(launched)
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({web, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
        finally:
            log.info("shutting down")
            if launching is not None and not launching.done():
                launching.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await launching
            if telegram is not None and telegram.application.updater is not None:
                updater = telegram.application.updater
                if updater.running:
                    await updater.stop()  # no new updates while the rest winds down
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await web
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            if telegram is not None:
                await telegram.close()
            log.info("stopped")
        if failures:
            raise failures[0]


def _telegram_channel(
    settings: Settings, engine: SurveyEngine, staff: StaffCommands, *, senders: int
) -> TelegramChannel | None:
    if settings.telegram_token is None:
        return None
    application = build_application(
        settings.telegram_token.get_secret_value(),
        base_url=settings.telegram_api_url,
        polling=settings.public_url is None,
        rate_limiter=RetryingRateLimiter(flood=_flood_limit(settings, engine.database, senders)),
    )
    keyboards = LiveKeyboards(engine.database, settings.secret(), TELEGRAM_CHANNEL)
    return TelegramChannel(application, engine, staff=staff, keyboards=keyboards)


def _flood_limit(settings: Settings, database: Database, senders: int) -> FloodLimit:
    """Telegram's flood limits: kept in memory by one process; shared through the database
    by the workers of `--workers N`, which all send for the bot."""
    if senders == 1:
        return LocalFloodLimit()
    return SharedFloodLimit(database, settings.secret(), senders=senders)


def _webhook_secret(settings: Settings) -> str | None:
    """The webhook secret when webhooks are on; refuses one Telegram would refuse."""
    if settings.public_url is None or settings.telegram_token is None:
        return None
    secret = settings.telegram_webhook_secret
    value = secret.get_secret_value() if secret is not None else ""
    if not 1 <= len(value) <= 256 or not set(value) <= WEBHOOK_SECRET_CHARACTERS:
        raise click.ClickException(
            "SIPAS_TELEGRAM_WEBHOOK_SECRET: 1-256 characters of A-Z, a-z, 0-9, _ and - "
            "(Telegram refuses others)"
        )
    return value


async def _launch(
    telegram: TelegramChannel, settings: Settings, secret: str | None, *, register: bool = True
) -> None:
    """Connect to Telegram, retrying while it cannot be reached; an invalid token is fatal.

    In webhook mode without `register`, only connect: another worker registers the webhook.
    """
    webhook_url = f"{settings.public_url}{WEBHOOK_PATH}" if settings.public_url else None
    delay = LAUNCH_RETRY_FIRST_SECONDS
    while True:
        try:
            if webhook_url is not None and not register:
                await telegram.connect()
                await telegram.application.start()
            else:
                await telegram.launch(webhook_url=webhook_url, webhook_secret=secret)
        except InvalidToken:
            raise TelegramRefused(
                "Telegram refused SIPAS_TELEGRAM_TOKEN: check it with @BotFather"
            ) from None
        except NetworkError as error:
            log.warning("Telegram unreachable (%s); retrying in %.0fs", type(error).__name__, delay)
            with contextlib.suppress(Exception):
                await telegram.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAUNCH_RETRY_MAX_SECONDS)
            continue
        username = telegram.application.bot.username
        if username != settings.telegram_bot_username:
            # Deep links and QR codes are built from the setting: they would open another bot.
            log.warning(
                "SIPAS_TELEGRAM_BOT_USERNAME is %r but the token belongs to @%s",
                settings.telegram_bot_username,
                username,
            )
        return


async def _until_listening(server: uvicorn.Server, web: asyncio.Task[None]) -> None:
    """Wait until uvicorn listens; if it gave up (port taken), say so."""
    while not server.started:
        if web.done():
            raise click.ClickException("the web app could not start (is the port in use?)")
        await asyncio.sleep(0.02)


async def _logged(job: Coroutine[Any, Any, None]) -> None:
    """Run a background job; its crash is logged and does not take the service down."""
    try:
        await job
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background job failed")


@contextlib.asynccontextmanager
async def _signals_set(stop: asyncio.Event, *, enabled: bool) -> AsyncIterator[None]:
    """SIGINT and SIGTERM set `stop` while serving."""
    if not enabled:
        yield
        return
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for number in signals:
        loop.add_signal_handler(number, stop.set)
    try:
        yield
    finally:
        for number in signals:
            loop.remove_signal_handler(number)
