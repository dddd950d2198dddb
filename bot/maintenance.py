"""Periodic upkeep inside `sipas serve`: expire abandoned surveys, forget old event ids and
keyboards, remind, send the result questions owed, delete what the retention period has let go."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime

from handlers.events import Reply
from handlers.survey import ResultFollowUpMessage, SurveyEngine
from storage.live_keyboards import forget_live_keyboards
from storage.retention import RetentionPolicy, apply_retention
from storage.sessions import EVENT_MEMORY

log = logging.getLogger(__name__)

MAINTENANCE_INTERVAL_SECONDS = 300.0

# Sends replies to a chat address unprompted; False (a Zalo channel) or an exception: not
# delivered.
Sender = Callable[[str, list[Reply]], Awaitable[object]]


async def send_result_follow_ups(
    engine: SurveyEngine,
    senders: Mapping[str, Sender],
    messages: Sequence[ResultFollowUpMessage],
    now: datetime,
) -> None:
    """Send the result questions, each by the channel its respondent answered on.

    The address was erased before (in the engine's transaction), so a crash can lose a
    message but never send it twice. One not delivered (Zalo OA outside its 48-hour
    window, a blocked bot, a channel switched off) is counted as unreachable.
    """
    for message in messages:
        sender = senders.get(message.channel)
        delivered = False
        if sender is not None:
            try:
                delivered = await sender(message.address, message.replies) is not False
            except Exception as error:  # one unreachable respondent must not stop the others
                log.warning(
                    "a %s result follow-up could not be delivered: %s",
                    message.channel,
                    type(error).__name__,
                )
        if not delivered:
            await engine.result_follow_up_undelivered(message.follow_up_id, now)


async def maintain_once(
    engine: SurveyEngine,
    senders: Mapping[str, Sender],
    now: datetime,
    *,
    retention: RetentionPolicy | None = None,
) -> None:
    """One round: purge what the resume window has let go, event ids no platform will deliver
    again and the chat addresses kept for result follow-ups past their time, then deliver the
    reminders and the result questions owed; once a day, apply the `retention` period.

    A reminder is marked sent before delivery (in the engine's transaction), so a
    crash can lose a reminder but never send one twice; a failed delivery is logged
    without the address.
    """
    expired = await engine.purge_abandoned(now)
    if expired:
        log.info("expired %d abandoned survey session(s)", expired)
    forgotten = await engine.forget_old_events(now)
    if forgotten:
        log.info("forgot %d processed event id(s) older than a week", forgotten)
    erased = await engine.forget_result_addresses(now)
    if erased:
        log.info("erased %d chat address(es) kept for a result follow-up past its time", erased)
    # As long as event ids: a chat untouched that long has no step waiting in it.
    await forget_live_keyboards(engine.database, now - EVENT_MEMORY)
    if retention is not None:
        kept = await apply_retention(engine.database, retention, now)
        if kept.responses or kept.unfinished_sessions or kept.invitations:
            log.info(
                "retention: deleted %d response(s) of days before %s, %d unfinished session(s), "
                "%d expired invitation(s)",
                kept.responses,
                kept.cutoff_day,
                kept.unfinished_sessions,
                kept.invitations,
            )
    for reminder in await engine.due_reminders(now):
        sender = senders.get(reminder.channel)
        if sender is None:
            continue
        try:
            await sender(reminder.address, reminder.replies)
        except Exception as error:  # one unreachable respondent must not stop the round
            log.warning(
                "a %s reminder could not be delivered: %s", reminder.channel, type(error).__name__
            )
    await send_result_follow_ups(engine, senders, await engine.due_result_follow_ups(now), now)


async def maintenance_loop(
    engine: SurveyEngine,
    senders: Mapping[str, Sender],
    *,
    interval: float = MAINTENANCE_INTERVAL_SECONDS,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Run `maintain_once` every `interval` seconds until cancelled."""
    while True:
        try:
            await maintain_once(engine, senders, clock())
        except Exception:
            log.exception("maintenance round failed; retrying at the next interval")
        await asyncio.sleep(interval)
