"""The citizen survey conversation: one `Inbound` event in, state committed, `Reply` values out.

    engine = SurveyEngine(database, load_bundled(), EngineConfig(secret=..., zone=...))
    replies = await engine.handle(Inbound(channel="telegram", chat="42", event_id="1001",
                                          kind=InboundKind.START, payload="c_HN-00004-01_..."))

Each event runs in one database transaction: the event is recorded as processed (a
redelivery stops there), the respondent's events are serialised, the open session is
loaded, the answer and the new position are stored, and only then are replies built.
No survey state lives in process memory, so a crash loses nothing committed and a
replay changes nothing. The chat address is only turned into the respondent key
(an HMAC) and never stored in clear.

The result moment: a respondent who has not received the result yet is asked once
whether they may be written to when it is returned; if they agree, their chat address
is kept (encrypted, `storage.result_follow_ups`) until the result is returned. Then
`due_result_follow_ups` opens a follow-up session that asks only the result block,
whose answers join the same response. A survey started from an invitation minted at
the result (`Stage.RESULT`) asks everything with the result screener answered
"received".
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from analytics.days import reporting_day
from handlers.catalog import Catalog, load_catalog
from handlers.events import Button, Command, Inbound, InboundKind, Reply, Surface
from handlers.privacy_notice import PrivacyNotice, place_of
from questionnaires import InvalidAnswer, Item, ItemType, Progress, Questionnaire
from questionnaires.choices import ANSWER, BACK, SKIP, answer_data, choice_data
from questionnaires.loader import parse_questionnaire
from questionnaires.rounds import RoundPlan
from storage import result_follow_ups as follow_ups
from storage import sessions as store
from storage.db import Database, Transaction
from storage.invitations import (
    COUNTER_PREFIX,
    INVITATION_PREFIX,
    CounterShortCodes,
    InvitationProblem,
    InvitationRefused,
    Stage,
    StartTarget,
    claim_invitation,
    claim_refusal,
    find_invitation,
    normalise_short_code,
    parse_counter_payload,
)
from storage.models import Invitation, ResultFollowUp, RoundInvitation, SurveySession
from storage.privacy import AddressCipher, keyed_hash, respondent_key, scrub
from storage.procedures import rating_subject
from storage.rounds import (
    ROUND_PREFIX,
    claim_round_invitation,
    complete_round_invitation,
    find_round_invitation,
    get_round,
    round_claim_refusal,
    round_open,
)
from storage.units import get_service_point

SKIP_KEY = "0"
BACK_KEY = "<"
# What people type on a text-only channel instead of tapping a control. A confirmation that
# deletes answers is typed as a code it shows (no stored state needed, and no typed number
# can delete by accident); "KHONG" declines any of them.
KEEP_KEY = "KHONG"
KEEP_WORDS = {"khong", "không", "keep"}
DELETE_CODE = "XOA"  # XOA0920: delete every answer given through this chat
CANCEL_CODE = "DUNG"  # DUNG0920: stop the survey, its answers deleted
CONFIRMATION_CODE_WINDOW_SECONDS = 600
RESTART_KEY = "LAMLAI"  # start an unfinished survey again, its answers deleted
RESTART_WORDS = {"lamlai", "lam lai", "làm lại", "restart"}
NEW_KEY = "MOI"  # "MOI AB3DEF7H": start the survey of that code, the unfinished one deleted
NEW_WORDS = ("moi", "mới", "new")
# The tap that stops a survey and deletes its answers (a kiosk ends its last respondent's so).
CANCEL_CONFIRMED = "cancel:yes"
# A choice label this short shares its row with the next short one: two reach a thumb at once.
SHORT_LABEL = 15
SKIP_WORDS = {SKIP_KEY, "bỏ qua", "bo qua", "skip", "không trả lời", "khong tra loi"}
BACK_WORDS = {BACK_KEY, "«", "quay lại", "quay lai", "back"}
START_WORDS = ("start", "bắt đầu", "bat dau", "/start")
# The choice asked after "not yet received": may the bot write once when the result is returned?
RESULT_CHOICE = "result"
FOLLOW_UP_PURPOSE = b"sipas-result-follow-up"
# The chats the bot can write to later, unprompted: not a browser page, nor the console.
FOLLOW_UP_CHANNELS = frozenset({"telegram", "zalo_oa", "zalo_bot"})
# A follow-up session's answers have joined its response; the session keeps nothing.
JOINED = "joined"
# How many respondents' forms of rounds (a group and its units each) a process keeps built.
ROUND_FORMS_KEPT = 1024
_RANDOM = random.SystemRandom()  # which units a respondent of a sampled group rates


@dataclass(frozen=True)
class EngineConfig:
    """What the conversation needs from the deployment's settings."""

    secret: str
    zone: ZoneInfo
    default_language: str = "vi"
    data_controller: str = "Sở Nội vụ"
    data_controller_province: str | None = None
    data_controller_contact: str | None = None
    retention_months: int = 24
    resume_window: timedelta = timedelta(hours=48)
    reminder_after: timedelta | None = None
    max_comment_length: int = 1000
    # How long the chat address of a respondent who agreed to the result follow-up is kept
    # at most; 0: the follow-up is not offered.
    result_follow_up_days: int = 0
    result_follow_up_channels: frozenset[str] = FOLLOW_UP_CHANNELS


def survey_notice(
    config: EngineConfig, questionnaire: Questionnaire, catalog: Catalog | None = None
) -> PrivacyNotice:
    """The privacy notice of a survey run with `config`, announcing the sensitive items of
    `questionnaire` it asks."""
    return PrivacyNotice(
        controller=config.data_controller,
        province=config.data_controller_province,
        contact=config.data_controller_contact,
        retention_months=config.retention_months,
        resume_window_hours=int(config.resume_window.total_seconds() // 3600),
        result_follow_up_days=(
            config.result_follow_up_days if questionnaire.result_moment is not None else 0
        ),
        sensitive=[item.text for item in questionnaire.sensitive_items()],
        catalog=catalog or load_catalog(),
    )


class Outcome(StrEnum):
    """How the engine dealt with one event, as reported to an `EngineObserver`."""

    PROCESSED = "processed"
    COMPLETED = "completed"  # the event that turned a session into a response
    DUPLICATE = "duplicate"  # a redelivery: recorded before, nothing done
    FAILED = "failed"  # rolled back; the platform or the respondent retries


class EngineObserver(Protocol):
    """Told about every event handled (metrics); must not raise or block."""

    def event_handled(self, channel: str, outcome: Outcome, seconds: float) -> None:
        """One event is done: its channel, outcome and time spent in the engine."""
        ...


@dataclass(frozen=True)
class Reminder:
    """A reminder to finish, to be sent by the channel the session came from."""

    channel: str
    address: str
    replies: list[Reply]


@dataclass(frozen=True)
class ResultFollowUpMessage:
    """The result questions to send to a respondent who agreed to them, by the channel they
    answered on; the address is no longer stored anywhere once this exists."""

    follow_up_id: str
    channel: str
    address: str
    replies: list[Reply]


@dataclass
class Turn:
    """The state one event works on, inside its transaction."""

    tx: Transaction
    inbound: Inbound
    key: str
    survey: SurveySession | None
    language: str
    # The open session's stored answers, read with it and kept in step with every write,
    # so no step reads them again.
    answers: dict[str, str | None]
    completed: bool = False
    withdrawn: bool = False  # answers were deleted on request: erase them from disk once committed

    @property
    def now(self) -> datetime:
        return self.inbound.received_at


class SurveyEngine:
    """The channel-agnostic survey conversation over the database."""

    def __init__(
        self,
        database: Database,
        questionnaire: Questionnaire,
        config: EngineConfig,
        *,
        catalog: Catalog | None = None,
        simulated: bool = False,
        observer: EngineObserver | None = None,
    ) -> None:
        self.database = database
        self.observer = observer
        self.questionnaire = questionnaire
        self._scale_values = questionnaire.scale_values()
        self.config = config
        self.catalog = catalog or load_catalog()
        self.simulated = simulated
        self._cipher = AddressCipher(config.secret)
        self._follow_up_cipher = AddressCipher(config.secret, FOLLOW_UP_PURPOSE)
        # What a session asks, by its stage; a follow-up session asks the result block only.
        self._asked: dict[str, Questionnaire] = {
            Stage.RECEPTION: questionnaire,
            Stage.RESULT: questionnaire.at_result(),
        }
        self._result_block = questionnaire.result_block()
        self._counter_short_codes = CounterShortCodes(config.secret)
        self.notice = survey_notice(config, questionnaire, self.catalog)
        # Survey rounds, read once per process (a round's plan and form never change; its
        # closing is read afresh at every start), and the form each respondent is asked.
        self._rounds: dict[str, tuple[RoundPlan, Questionnaire]] = {}
        self._round_forms: dict[tuple[str, str, tuple[str, ...]], Questionnaire] = {}

    # --- entry point ---------------------------------------------------------------------

    async def handle(self, inbound: Inbound) -> list[Reply]:
        """Process one event and return what to show; [] for a duplicate delivery."""
        started = time.perf_counter()
        outcome = Outcome.FAILED
        try:
            replies, outcome = await self._handle(inbound)
        finally:
            if self.observer is not None:
                self.observer.event_handled(inbound.channel, outcome, time.perf_counter() - started)
        return replies

    async def _handle(self, inbound: Inbound) -> tuple[list[Reply], Outcome]:
        async with self.database.short_transaction() as tx:
            key = respondent_key(self.config.secret, inbound.channel, inbound.chat)
            if not await store.record_event(
                tx, inbound.channel, inbound.event_id, inbound.received_at, key
            ):
                return [], Outcome.DUPLICATE
            loaded, answers = await store.load_open_session(tx, key)
            survey, saved = loaded, loaded.version if loaded is not None else 0
            if (
                loaded is not None
                and loaded.last_activity_at < inbound.received_at - self.config.resume_window
            ):
                await store.discard_session(tx, loaded, "expired", inbound.received_at)
                # Written at once: whatever this event does next must not find it open.
                await store.save_session(tx, loaded, saved)
                survey, saved, answers = None, loaded.version, {}
            if survey is not None:
                await self._know_round(tx, survey)
            turn = Turn(tx, inbound, key, survey, self._language(inbound, survey), answers)
            replies = await self._dispatch(turn)
            # Every change to a session bumps its version (see `_touch`, `close_session`).
            if loaded is not None and loaded.version != saved:
                await store.save_session(tx, loaded, saved)
        if turn.withdrawn:
            await self.database.erase_deleted()
        # Reported only once the transaction has committed.
        return replies, Outcome.COMPLETED if turn.completed else Outcome.PROCESSED

    async def purge_abandoned(self, now: datetime) -> int:
        """Expire sessions idle longer than the resume window; they count only as non-completion."""
        async with self.database.transaction() as tx:
            return await store.expire_abandoned(tx, now - self.config.resume_window, now)

    async def forget_old_events(self, now: datetime) -> int:
        """Forget the ids of events processed longer ago than any platform redelivers."""
        return await store.forget_processed_events(self.database, now - store.EVENT_MEMORY)

    async def due_reminders(self, now: datetime) -> list[Reminder]:
        """Reminders owed now (one per session at most), marked as sent in the same transaction."""
        delay = self.config.reminder_after
        if delay is None:
            return []
        reminders: list[Reminder] = []
        async with self.database.transaction() as tx:
            due = await store.sessions_to_remind(
                tx, now - delay, now - self.config.resume_window, now
            )
            for survey in due:
                address = self._cipher.decrypt(survey.address_ciphertext or "")
                if address is None:
                    continue
                await self._know_round(tx, survey)
                answers = await store.load_answers(tx, survey.id)
                hours = max(
                    1,
                    int(
                        (
                            self.config.resume_window - (now - survey.last_activity_at)
                        ).total_seconds()
                        // 3600
                    ),
                )
                notice = Reply(self._text(survey.language, "reminder", hours=hours))
                reminders.append(
                    Reminder(survey.channel, address, [notice, self._current_step(survey, answers)])
                )
        return reminders

    # --- the result moment ----------------------------------------------------------------

    async def due_result_follow_ups(self, now: datetime) -> list[ResultFollowUpMessage]:
        """The result questions owed now (the result was returned, `follow_ups.mark_due`) to
        respondents who agreed to them, except those in the middle of another survey, who
        are asked at a later call."""
        async with self.database.transaction() as tx:
            messages = [
                await self._open_follow_up(tx, follow_up, now)
                for follow_up in await follow_ups.due_follow_ups(tx)
            ]
        return [message for message in messages if message is not None]

    async def result_follow_up_undelivered(self, follow_up_id: str, now: datetime) -> None:
        """The platform did not deliver the result questions: counted as unreachable."""
        await follow_ups.mark_undelivered(self.database, follow_up_id, now)

    async def forget_result_addresses(self, now: datetime) -> int:
        """Erase the addresses kept longer than the follow-up allows; how many."""
        return await follow_ups.forget_addresses(
            self.database, now, self.config.result_follow_up_days
        )

    async def _open_follow_up(
        self, tx: Transaction, follow_up: ResultFollowUp, now: datetime
    ) -> ResultFollowUpMessage | None:
        """Open the session that asks the result block, and erase the address it goes to; None
        while the respondent has another survey open (it stays due)."""
        address = self._follow_up_cipher.decrypt(follow_up.address_ciphertext or "")
        first = self._result_block.next_item({})
        if address is None or first is None:
            # Encrypted under a former secret, or nothing left to ask: it cannot be sent.
            follow_ups.erase_address(follow_up, now, follow_ups.UNREACHABLE)
            return None
        key = respondent_key(self.config.secret, follow_up.channel, address)
        await store.lock_respondent(tx, key)
        if await store.find_open_session(tx, key) is not None:
            return None
        surveyed = await follow_ups.surveyed_session(tx, follow_up)
        survey = SurveySession(
            respondent_key=key,
            channel=follow_up.channel,
            questionnaire_id=surveyed.questionnaire_id,
            questionnaire_version=surveyed.questionnaire_version,
            service_point_code=surveyed.service_point_code,
            language=surveyed.language,
            status="active",
            current_item=first.code,
            started_at=now,
            last_activity_at=now,
            version=1,
            simulated=surveyed.simulated,
            consent_at=surveyed.consent_at,
            notice_version=surveyed.notice_version,
            stage=Stage.RESULT,
            result_follow_up_id=follow_up.id,
        )
        await store.add_session(tx, survey)
        # Erased before it is sent: a crash can lose the message, never send it twice.
        follow_ups.erase_address(follow_up, now, follow_ups.SENT)
        intro = self._text(
            survey.language, "result_follow_up.intro", count=len(self._result_block.items)
        )
        return ResultFollowUpMessage(
            follow_up.id,
            follow_up.channel,
            address,
            [Reply(intro), self._question(survey, first, {})],
        )

    # --- dispatch ------------------------------------------------------------------------

    async def _dispatch(self, turn: Turn) -> list[Reply]:
        kind = turn.inbound.kind
        if kind is InboundKind.COMMAND:
            return await self._command(turn, turn.inbound.payload)
        if kind is InboundKind.START:
            return await self._start(turn, turn.inbound.payload.strip())
        if kind is InboundKind.CHOICE:
            return await self._choice(turn, turn.inbound.payload)
        if kind is InboundKind.SHOW:
            return await self._shown_again(turn)
        if kind is InboundKind.UNSUPPORTED:
            return await self._unsupported(turn)
        return await self._text_input(turn, turn.inbound.payload)

    async def _command(self, turn: Turn, name: str) -> list[Reply]:
        survey = turn.survey
        if name == Command.LANGUAGE:
            return await self._switch_language(turn, None)
        if name == Command.PRIVACY:
            return await self._full_notice(turn)
        if name == Command.CANCEL:
            if survey is None:
                return await self._no_survey(turn)
            if not turn.answers:
                return await self._cancel(turn, survey)  # nothing to lose: no need to ask
            code = self._confirmation_code(CANCEL_CODE, turn.key, turn.now)
            yes = Button(self._text(turn.language, "cancel.yes"), CANCEL_CONFIRMED, code)
            return [
                self._confirmation(turn, "cancel", yes, "cancel:no", answered=len(turn.answers))
            ]
        if name == Command.DELETE:
            code = self._confirmation_code(DELETE_CODE, turn.key, turn.now)
            yes = Button(self._text(turn.language, "delete.yes"), "del:yes", code)
            return [self._confirmation(turn, "delete", yes, "del:no")]
        return [Reply(self._help(turn)), *await self._current(turn)]

    async def _start(self, turn: Turn, payload: str, *, confirmed: bool = False) -> list[Reply]:
        """Start the survey `payload` names; one open elsewhere with answers is only given
        up once the respondent has `confirmed` it, since its answers go with it."""
        if not payload:
            if turn.survey is not None:
                return await self._resume_prompt(turn, turn.survey)
            return [Reply(self._text(turn.language, "welcome"))]
        try:
            round_invitation = await self._round_invitation(turn, payload)
            if round_invitation is not None:
                return await self._start_round(turn, round_invitation, payload, confirmed)
            target, invitation = await self._resolve(turn, payload)
        except InvitationRefused as refusal:
            return [Reply(self._text(turn.language, f"invitation.{refusal.problem.value}"))]
        survey = turn.survey
        if survey is not None and (survey.service_point_code, survey.invitation_id) == (
            target.service_point_code,
            target.invitation_id,
        ):
            return await self._resume_prompt(turn, survey)
        if target.invitation_id is None and await store.answered_today(
            turn.tx, turn.key, target.service_point_code, reporting_day(turn.now, self.config.zone)
        ):
            # Nothing new to start: an unfinished survey elsewhere stays as it was.
            already = [Reply(self._text(turn.language, "already_today"))]
            if survey is not None:
                already += await self._resume_prompt(turn, survey)
            return already
        if survey is not None and turn.answers and not confirmed:
            return [self._switch_confirmation(turn, payload)]
        if invitation is not None:
            try:
                await claim_invitation(turn.tx, invitation, turn.key, turn.now)
            except InvitationRefused as refusal:
                return [Reply(self._text(turn.language, f"invitation.{refusal.problem.value}"))]
        return await self._open(turn, self._new_session(turn, target))

    def _switch_confirmation(self, turn: Turn, payload: str) -> Reply:
        """Ask before a new counter, dossier or round abandons the unfinished survey and its
        answers."""
        shown = normalise_short_code(payload) or payload
        yes = Button(self._text(turn.language, "switch.yes"), f"new:{shown}", f"{NEW_KEY} {shown}")
        return self._confirmation(turn, "switch", yes, "resume:go", answered=len(turn.answers))

    async def _open(self, turn: Turn, survey: SurveySession) -> list[Reply]:
        """Start `survey` in place of the unfinished one (if any): the notice, then consent."""
        if turn.survey is not None:
            await store.discard_session(turn.tx, turn.survey, "expired", turn.now)
        turn.survey = survey
        turn.answers = {}
        await store.add_session(turn.tx, survey)
        return [self._short_notice(turn, turn.language), self._consent(survey)]

    # --- survey rounds -------------------------------------------------------------------

    async def _round_invitation(self, turn: Turn, payload: str) -> RoundInvitation | None:
        """The round invitation a payload (`r_…`) or short code names; an `r_` payload of none
        is refused as unknown."""
        if not payload.startswith(ROUND_PREFIX) and normalise_short_code(payload) is None:
            return None
        invitation = await find_round_invitation(turn.tx, self.config.secret, payload)
        if invitation is None and payload.startswith(ROUND_PREFIX):
            raise InvitationRefused(InvitationProblem.UNKNOWN)
        return invitation

    async def _start_round(
        self, turn: Turn, invitation: RoundInvitation, payload: str, confirmed: bool
    ) -> list[Reply]:
        """Start the form of a round invitation's group: refused once answered, when another
        account opened it, or when the round is not open today."""
        refusal = round_claim_refusal(invitation, turn.key)
        survey_round = await get_round(turn.tx, invitation.round_code)
        if refusal is None and survey_round is not None:
            refusal = round_open(survey_round, reporting_day(turn.now, self.config.zone))
        if refusal is not None or survey_round is None:
            raise InvitationRefused(refusal or InvitationProblem.UNKNOWN)
        survey = turn.survey
        if survey is not None and survey.round_invitation_id == invitation.id:
            return await self._resume_prompt(turn, survey)
        if survey is not None and turn.answers and not confirmed:
            return [self._switch_confirmation(turn, payload)]
        await claim_round_invitation(turn.tx, invitation, turn.key, turn.now)
        plan, questionnaire = self._round(
            survey_round.code, survey_round.plan, survey_round.questionnaire_source
        )
        group = plan.group(invitation.group_code)
        units = list(group.rates)
        if group.sample is not None:
            units = sorted(_RANDOM.sample(units, group.sample), key=units.index)
        opened = self._new_session(turn, None)
        opened.questionnaire_id = questionnaire.id
        opened.questionnaire_version = questionnaire.version
        opened.round_code = survey_round.code
        opened.group_code = group.code
        opened.round_invitation_id = invitation.id
        opened.rated_units = units
        return await self._open(turn, opened)

    def _round(
        self, code: str, plan: dict[str, object], source: str
    ) -> tuple[RoundPlan, Questionnaire]:
        """The round's plan and questionnaire, read once per process."""
        if code not in self._rounds:
            self._rounds[code] = (
                RoundPlan.from_json(plan),
                parse_questionnaire(source, source=f"round {code}"),
            )
        return self._rounds[code]

    async def _know_round(self, tx: Transaction, survey: SurveySession) -> None:
        """Read the round of a round's session, if this process has not yet."""
        code = survey.round_code
        if code is None or code in self._rounds:
            return
        survey_round = await get_round(tx, code)
        assert survey_round is not None, "a round is never deleted while it has sessions"
        self._round(code, survey_round.plan, survey_round.questionnaire_source)

    def _round_form(self, survey: SurveySession) -> Questionnaire:
        """What a round's session asks: its group's form, the rated-unit block once per unit."""
        assert survey.round_code is not None and survey.group_code is not None
        units = tuple(survey.rated_units or ())
        key = (survey.round_code, survey.group_code, units)
        form = self._round_forms.get(key)
        if form is None:
            plan, questionnaire = self._rounds[survey.round_code]
            named = {unit.code: unit for unit in plan.units}
            form = questionnaire.for_respondent(
                plan.group(survey.group_code).label, [named[code] for code in units]
            )
            if len(self._round_forms) >= ROUND_FORMS_KEPT:
                self._round_forms.clear()
            self._round_forms[key] = form
        return form

    async def _complete_round(self, turn: Turn, survey: SurveySession) -> list[Reply]:
        """A round's form is answered: the session is its record (answers under the rated
        unit's place), and the invitation opens nothing any more."""
        survey.completed_at = turn.now
        await store.close_session(survey, "completed", turn.now)
        if survey.round_invitation_id is not None:
            await complete_round_invitation(turn.tx, survey.round_invitation_id, turn.now)
        turn.completed = True
        thanks = self._text(survey.language, "round.thanks")
        return [Reply(thanks + self._withdraw_hint(turn, survey.language), question=True)]

    async def _resolve(self, turn: Turn, payload: str) -> tuple[StartTarget, Invitation | None]:
        """The counter (and invitation, to claim) a start payload or short code names, or why
        not: an invitation this respondent could not claim now is refused here already."""
        secret = self.config.secret
        if payload.startswith(COUNTER_PREFIX):
            return await self._counter(turn, parse_counter_payload(secret, payload)), None
        if not payload.startswith(INVITATION_PREFIX) and normalise_short_code(payload) is None:
            raise InvitationRefused(InvitationProblem.MALFORMED)
        invitation = await find_invitation(turn.tx, secret, payload)
        if invitation is None:
            code = await self._counter_short_codes.find(turn.tx, payload)
            if code is None:
                raise InvitationRefused(InvitationProblem.UNKNOWN)
            return await self._counter(turn, code), None
        refusal = claim_refusal(invitation, turn.key, turn.now)
        if refusal is not None:
            raise InvitationRefused(refusal)
        return StartTarget(
            invitation.service_point_code, invitation.id, invitation.stage
        ), invitation

    async def _counter(self, turn: Turn, service_point_code: str) -> StartTarget:
        """The counter a token or short code named, if it takes surveys; else why not."""
        point = await get_service_point(turn.tx, service_point_code)
        if point is None:
            raise InvitationRefused(InvitationProblem.UNKNOWN)
        if not point.active:
            raise InvitationRefused(InvitationProblem.INACTIVE)
        return StartTarget(service_point_code)

    def _new_session(self, turn: Turn, target: StartTarget | None) -> SurveySession:
        """A session of the citizen survey at `target`, or (None) of a round, filled in by
        the caller."""
        keep_address = self.config.reminder_after is not None
        return SurveySession(
            respondent_key=turn.key,
            channel=turn.inbound.channel,
            questionnaire_id=self.questionnaire.id,
            questionnaire_version=self.questionnaire.version,
            service_point_code=target.service_point_code if target is not None else None,
            invitation_id=target.invitation_id if target is not None else None,
            language=turn.language,
            status="consent",
            started_at=turn.now,
            last_activity_at=turn.now,
            version=1,
            address_ciphertext=self._cipher.encrypt(turn.inbound.chat) if keep_address else None,
            simulated=self.simulated,
            stage=target.stage if target is not None else Stage.RECEPTION,
        )

    async def _choice(self, turn: Turn, data: str) -> list[Reply]:
        action, _, argument = data.partition(":")
        if action == "del":
            return await self._delete(turn, confirmed=argument == "yes")
        if action == "lang":
            return await self._switch_language(turn, argument)
        if action == "privacy":
            return await self._full_notice(turn)
        if action == "new":
            return await self._start(turn, argument, confirmed=True)
        survey = turn.survey
        if survey is None:
            return await self._no_survey(turn)
        if action == "cancel":
            if argument == "yes":
                return await self._cancel(turn, survey)
            return await self._current(turn)
        if action == "consent" and survey.status == "consent":
            return await self._consent_given(turn, survey, argument == "yes")
        if action == "resume":
            return await self._resume(turn, survey, restart=argument == "restart")
        if action == RESULT_CHOICE and self._asks_follow_up(survey, turn.answers):
            survey.result_follow_up_agreed = argument == "yes"
            return await self._advance(turn, survey, turn.answers)
        item_code, _, value = argument.partition(":")
        if survey.status != "active" or item_code != survey.current_item:
            # A tap on an old keyboard, or a second tap racing the first.
            return await self._current(turn, self._text(turn.language, "stale_tap"))
        item = self._questions(survey).item(item_code)
        if action == ANSWER:
            return await self._answer(turn, survey, item, value)
        if action == SKIP and (item.skippable or item.type is ItemType.TEXT):
            return await self._record(turn, survey, item, None)
        if action == BACK:
            return await self._back(turn, survey)
        return await self._current(turn)

    async def _confirmed_by_text(self, turn: Turn, typed: str) -> list[Reply] | None:
        """The answer to a confirmation on a text-only channel, if `typed` is one: the code it
        showed (XOA0920, DUNG0920, MOI AB3DEF7H), or KHONG."""
        if self._is_confirmation_code(DELETE_CODE, turn.key, turn.now, typed):
            return await self._delete(turn, confirmed=True)
        if turn.survey is not None and self._is_confirmation_code(
            CANCEL_CODE, turn.key, turn.now, typed
        ):
            return await self._cancel(turn, turn.survey)
        if typed.casefold() in KEEP_WORDS:
            return await self._kept(turn)
        confirmed = _after_word(typed, NEW_WORDS)
        if confirmed is not None and _start_payload(confirmed) is not None:
            return await self._start(turn, confirmed, confirmed=True)
        return None

    async def _text_input(self, turn: Turn, text: str) -> list[Reply]:
        survey = turn.survey
        typed = " ".join(text.split())
        confirmation = await self._confirmed_by_text(turn, typed)
        if confirmation is not None:
            return confirmation
        if survey is None:
            payload = _start_payload(typed)
            if payload is not None:
                return await self._start(turn, payload)
            return await self._no_survey(turn)
        current = self._current_step(survey, turn.answers)
        questions = self._questions(survey)
        # On the follow-up choice, typed text answers that choice only, never the next item.
        item = (
            questions.item(survey.current_item)
            if survey.current_item and not self._asks_follow_up(survey, turn.answers)
            else None
        )
        folded = typed.casefold()
        if (
            item is not None
            and item.type is ItemType.TEXT
            and folded not in SKIP_WORDS | BACK_WORDS
        ):
            return await self._comment(turn, survey, item, text)
        if folded in RESTART_WORDS:
            return await self._resume(turn, survey, restart=True)
        payload = _start_payload(typed)
        if payload is not None:  # another counter's code, typed where there are no start links
            return await self._start(turn, payload)
        for button in current.choices():
            if folded == button.key.casefold() or folded == button.label.casefold():
                return await self._choice(turn, button.data)
        if item is not None and folded in SKIP_WORDS and item.skippable:
            return await self._record(turn, survey, item, None)
        if item is not None and folded in BACK_WORDS:
            return await self._back(turn, survey)
        if item is not None and item.type is not ItemType.TEXT:
            try:
                return await self._record(
                    turn, survey, item, questions.validate_answer(item, typed)
                )
            except InvalidAnswer:
                pass
        return [
            Reply(self._text(turn.language, f"choose_hint.{_choosing(turn.inbound.surface)}")),
            current,
        ]

    # --- steps ---------------------------------------------------------------------------

    async def _consent_given(
        self, turn: Turn, survey: SurveySession, accepted: bool
    ) -> list[Reply]:
        if not accepted:
            await store.discard_session(turn.tx, survey, "declined", turn.now)
            turn.answers = {}
            return [Reply(self._text(turn.language, "consent.declined"))]
        survey.status = "active"
        survey.consent_at = turn.now
        survey.notice_version = self.notice.version
        return [*await self._subject(turn, survey), *await self._advance(turn, survey, {})]

    async def _subject(self, turn: Turn, survey: SurveySession) -> list[Reply]:
        """The respondent reads what they rate: the counter, and the procedure and authority
        their invitation named ("Quầy: … · Thủ tục: …"); a round's form has no counter."""
        if survey.service_point_code is None:
            return []
        subject = await rating_subject(
            turn.tx,
            survey.service_point_code,
            survey.invitation_id,
            english=turn.language == "en",
        )
        if subject is None:
            return []
        parts = [
            self._text(turn.language, f"subject.{part}", name=name)
            for part, name in (
                ("counter", subject.counter),
                ("procedure", subject.procedure),
                ("authority", subject.authority),
            )
            if name
        ]
        return [Reply(" · ".join(parts))]

    async def _answer(
        self, turn: Turn, survey: SurveySession, item: Item, value: str
    ) -> list[Reply]:
        try:
            normalised = self._questions(survey).validate_answer(item, value)
        except InvalidAnswer:
            return await self._current(turn)
        return await self._record(turn, survey, item, normalised)

    async def _comment(
        self, turn: Turn, survey: SurveySession, item: Item, text: str
    ) -> list[Reply]:
        limit = min(item.max_length, self.config.max_comment_length)
        cleaned = scrub(text, max_length=limit)
        if not cleaned:
            return await self._current(turn)
        replies = await self._record(turn, survey, item, cleaned)
        if len(text.strip()) > limit:
            return [Reply(self._text(turn.language, "text_cut", limit=limit)), *replies]
        return replies

    async def _record(
        self, turn: Turn, survey: SurveySession, item: Item, value: str | None
    ) -> list[Reply]:
        answers = {**turn.answers, item.code: value}
        await store.save_answer(turn.tx, survey.id, item.code, value, turn.now)
        # A changed screener may hide items answered before: those answers go.
        relevant = self._questions(survey).relevant_answers(answers)
        await store.delete_answers(
            turn.tx, survey.id, [code for code in answers if code not in relevant]
        )
        turn.answers = dict(relevant)
        return await self._advance(turn, survey, relevant)

    async def _advance(
        self, turn: Turn, survey: SurveySession, answers: Mapping[str, str | None]
    ) -> list[Reply]:
        following = self._questions(survey).next_item(answers)
        if self._asks_follow_up(survey, answers):
            # Asked before the survey goes on (or ends); the next item waits behind it.
            if following is not None:
                survey.current_item = following.code
            self._touch(survey, turn.now)
            return [self._follow_up_choice(survey)]
        if following is None:
            return await self._complete(turn, survey, answers)
        survey.current_item = following.code
        self._touch(survey, turn.now)
        return [self._question(survey, following, answers)]

    async def _back(self, turn: Turn, survey: SurveySession) -> list[Reply]:
        answers = turn.answers
        previous = self._questions(survey).previous_item(answers, survey.current_item)
        if previous is not None:
            survey.current_item = previous.code
            self._touch(survey, turn.now)
        return [self._current_step(survey, answers)]

    async def _complete(
        self, turn: Turn, survey: SurveySession, answers: Mapping[str, str | None]
    ) -> list[Reply]:
        moment = self.questionnaire.result_moment
        if survey.round_code is not None:
            return await self._complete_round(turn, survey)
        if survey.result_follow_up_id is not None:
            return await self._join_response(turn, survey, answers)
        if moment is not None and survey.stage == Stage.RESULT:
            # Asked at the result: the screener was answered in advance.
            await store.save_answer(turn.tx, survey.id, moment.screener, moment.received, turn.now)
            answers = {**answers, moment.screener: moment.received}
        response = await store.record_response(
            turn.tx,
            survey,
            respondent_type=answers.get("respondent_type") or "citizen",
            answers=answers,
            completed_at=turn.now,
            reporting_day=reporting_day(turn.now, self.config.zone),
            scale_values=self._scale_values,
        )
        turn.completed = True
        thanks = self._text(survey.language, "thanks")
        if (
            moment is not None
            and survey.result_follow_up_agreed
            and answers.get(moment.screener) == moment.pending
        ):
            await turn.tx.flush()  # the response's id
            await follow_ups.keep_address(
                turn.tx,
                response_id=response.id,
                channel=survey.channel,
                address_ciphertext=self._follow_up_cipher.encrypt(turn.inbound.chat),
                now=turn.now,
                keep_for=timedelta(days=self.config.result_follow_up_days),
            )
            thanks += "\n\n" + self._text(survey.language, "result_follow_up.kept")
        return [Reply(thanks + self._withdraw_hint(turn, survey.language), question=True)]

    def _withdraw_hint(self, turn: Turn, language: str) -> str:
        """The line after the thanks saying how to delete the answers, where they can be."""
        surface = turn.inbound.surface
        if not surface.withdraw:
            return ""
        way = "command" if surface.commands else "button"
        return "\n" + self._text(language, f"withdraw.{way}")

    async def _join_response(
        self, turn: Turn, survey: SurveySession, answers: Mapping[str, str | None]
    ) -> list[Reply]:
        """The result questions of a follow-up are answered: they join the response."""
        moment = self.questionnaire.result_moment
        assert moment is not None and survey.result_follow_up_id is not None
        joined = await follow_ups.join_response(
            turn.tx,
            survey.result_follow_up_id,
            {**answers, moment.screener: moment.received},
            turn.now,
        )
        await store.discard_session(turn.tx, survey, JOINED, turn.now)
        turn.answers = {}
        key = "result_follow_up.thanks" if joined else "result_follow_up.gone"
        return [Reply(self._text(survey.language, key), question=True)]

    async def _resume_prompt(self, turn: Turn, survey: SurveySession) -> list[Reply]:
        """Back to an unfinished survey: said, then the step the respondent was on, with a way
        to start again. The step itself is shown, so whatever is tapped or typed next answers
        what the respondent sees."""
        if survey.status == "consent":
            return [self._consent(survey)]
        language = survey.language
        prompt = Reply(self._text(language, "resume.prompt", answered=len(turn.answers)))
        step = self._current_step(survey, turn.answers)
        again = Button(self._text(language, "resume.restart"), "resume:restart", RESTART_KEY)
        return [prompt, replace(step, buttons=(*step.buttons, (again,)))]

    async def _cancel(self, turn: Turn, survey: SurveySession) -> list[Reply]:
        await store.discard_session(turn.tx, survey, "cancelled", turn.now)
        turn.survey, turn.answers = None, {}
        return [Reply(self._text(turn.language, "cancelled"), question=True)]

    async def _resume(self, turn: Turn, survey: SurveySession, *, restart: bool) -> list[Reply]:
        if restart:
            await store.delete_answers(turn.tx, survey.id, list(turn.answers))
            turn.answers = {}
            survey.status = "active"
            return await self._advance(turn, survey, {})
        self._touch(survey, turn.now)
        return await self._current(turn)

    async def _switch_language(self, turn: Turn, wanted: str | None) -> list[Reply]:
        languages = self.questionnaire.languages
        if wanted not in languages:
            wanted = (
                languages[(languages.index(turn.language) + 1) % len(languages)]
                if turn.language in languages
                else languages[0]
            )
        turn.language = wanted
        # Said beside the step, which takes the place of the one shown before.
        switched = self._text(wanted, "language.switched")
        if turn.survey is None:
            return [Reply(self._text(wanted, "welcome"), question=True, notice=switched)]
        turn.survey.language = wanted
        self._touch(turn.survey, turn.now)
        current = await self._current(turn, switched)
        if turn.survey.status == "consent":
            # Consent is asked in the language the notice is read in.
            return [self._short_notice(turn, wanted), *current]
        return current

    def _confirmation(
        self, turn: Turn, kind: str, yes: Button, no_data: str, **values: object
    ) -> Reply:
        """Ask before `kind` deletes answers: a button for each choice; without buttons, the
        code to type (`yes.key`) or KHONG."""
        language = turn.language
        text = self._text(language, f"{kind}.confirm", **values)
        if not turn.inbound.surface.buttons:
            text += "\n" + self._text(language, "confirm.typed", code=yes.key, keep=KEEP_KEY)
        no = Button(self._text(language, f"{kind}.no"), no_data, KEEP_KEY)
        return Reply(text, _rows([yes, no]), question=True)

    def _confirmation_code(self, prefix: str, key: str, now: datetime, windows_ago: int = 0) -> str:
        """The code that confirms by text (XOA0920): tied to what it confirms, the respondent
        and a 10-minute window."""
        window = int(now.timestamp() // CONFIRMATION_CODE_WINDOW_SECONDS) - windows_ago
        purpose = "deletion-code" if prefix == DELETE_CODE else f"{prefix.lower()}-code"
        digest = keyed_hash(self.config.secret, purpose, f"{key}:{window}")
        return f"{prefix}{int(digest[:8], 16) % 10_000:04d}"

    def _is_confirmation_code(self, prefix: str, key: str, now: datetime, typed: str) -> bool:
        given = typed.replace(" ", "").replace("-", "").upper()
        # The window before counts too, so a code shown at 10:09 still works at 10:11.
        return any(given == self._confirmation_code(prefix, key, now, ago) for ago in (0, 1))

    async def _kept(self, turn: Turn) -> list[Reply]:
        """A confirmation declined: nothing deleted, and the step the respondent is on."""
        kept = self._text(turn.language, "kept")
        if turn.survey is None:
            return [Reply(kept, question=True)]
        return await self._current(turn, kept)

    async def _delete(self, turn: Turn, *, confirmed: bool) -> list[Reply]:
        if not confirmed:
            return await self._kept(turn)
        count = await store.withdraw_respondent(turn.tx, turn.key, turn.now)
        if count == 0:
            return [Reply(self._text(turn.language, "delete.nothing"), question=True)]
        turn.withdrawn = True
        return [Reply(self._text(turn.language, "delete.done", count=count), question=True)]

    # --- rendering -----------------------------------------------------------------------

    async def _current(self, turn: Turn, notice: str | None = None) -> list[Reply]:
        """The step the respondent is on (with `notice` beside it), or why there is none."""
        survey = turn.survey
        if survey is None:
            return await self._no_survey(turn)
        return [replace(self._current_step(survey, turn.answers), notice=notice)]

    async def _no_survey(self, turn: Turn) -> list[Reply]:
        """No survey open: one just completed (a tap on a keyboard from before the thanks) is
        said to be done; otherwise, how to start one."""
        since = turn.now - self.config.resume_window
        if await store.completed_since(turn.tx, turn.key, since):
            return [Reply(self._text(turn.language, "survey_done"))]
        return [Reply(self._text(turn.language, "nothing_open"))]

    async def _unsupported(self, turn: Turn) -> list[Reply]:
        """A sticker, a photo, a voice note: said plainly, then the step again."""
        sorry = self._text(turn.language, "unsupported")
        if turn.survey is None:
            return [Reply(sorry), *await self._no_survey(turn)]
        hint = self._text(turn.language, f"choose_hint.{_choosing(turn.inbound.surface)}")
        return [Reply(f"{sorry} {hint}"), *await self._current(turn)]

    def _help(self, turn: Turn) -> str:
        choose = self._text(turn.language, f"help.{_choosing(turn.inbound.surface)}")
        return self._text(turn.language, "help", choose=choose)

    def _current_step(self, survey: SurveySession, answers: Mapping[str, str | None]) -> Reply:
        if survey.status == "consent" or survey.current_item is None:
            return self._consent(survey)
        if self._asks_follow_up(survey, answers):
            return self._follow_up_choice(survey)
        return self._question(survey, self._questions(survey).item(survey.current_item), answers)

    async def _shown_again(self, turn: Turn) -> list[Reply]:
        """The current step for a page shown again, which has no messages above it: the
        consent question comes with the notice it refers to ("as the notice above")."""
        current = await self._current(turn)
        if turn.survey is not None and turn.survey.status == "consent":
            return [self._short_notice(turn, turn.language), *current]
        return current

    def _short_notice(self, turn: Turn, language: str) -> Reply:
        """The short privacy notice: a message of its own, never edited into a question, with
        the button (on text-only channels the command) that shows the full text."""
        button = Button(self.notice.button(language), "privacy:full", f"/{Command.PRIVACY}")
        text = self.notice.short(language, place_of(turn.inbound.surface))
        return Reply(text, ((button,),))

    async def _full_notice(self, turn: Turn) -> list[Reply]:
        """The full privacy notice, then the step the respondent is on (if a survey is open)."""
        full = Reply(self.notice.full(turn.language, place_of(turn.inbound.surface)))
        if turn.survey is None:
            return [full]
        return [full, *await self._current(turn)]

    def _consent(self, survey: SurveySession) -> Reply:
        language = survey.language
        consent = self._questions(survey).consent
        other = [code for code in self.questionnaire.languages if code != language]
        buttons = [
            Button(consent.accept[language], "consent:yes", "1"),
            Button(consent.decline[language], "consent:no", "2"),
        ]
        if other:
            buttons.append(Button(self._text(other[0], "language.button"), f"lang:{other[0]}", "3"))
        text = consent.render(language, self.notice.controller_name)
        return Reply(text, _rows(buttons), question=True)

    def _question(
        self, survey: SurveySession, item: Item, answers: Mapping[str, str | None]
    ) -> Reply:
        language = survey.language
        questions = self._questions(survey)
        header = self._where(language, questions.progress(answers, item.code))
        parts = [header, ""] if header else []
        if item.intro:
            parts.append(item.intro[language])
        parts.append(item.text[language])
        stem = questions.stem(item)
        if stem is not None:
            parts += ["", stem[language]]
        options = questions.options(item)
        previous = answers.get(item.code)
        if item.code in answers and previous is not None:
            label = next((o.label[language] for o in options if o.value == previous), previous)
            parts += ["", self._text(language, "current_answer", answer=label)]
        if item.type is ItemType.TEXT:
            parts += [
                "",
                self._text(
                    language,
                    "text_hint",
                    limit=min(item.max_length, self.config.max_comment_length),
                ),
            ]
        answers_offered = [
            Button(option.label[language], answer_data(item.code, option.value), str(number))
            for number, option in enumerate(options, start=1)
        ]
        # The points of a scale read top to bottom, one a row, in their order.
        rows = list(_rows(answers_offered, paired=item.type is not ItemType.SCALE))
        controls: list[Button] = []
        if questions.previous_item(answers, item.code) is not None:
            controls.append(
                Button(self._text(language, "back"), choice_data(BACK, item.code), BACK_KEY)
            )
        if item.skippable or item.type is ItemType.TEXT:
            controls.append(
                Button(questions.skip_label[language], choice_data(SKIP, item.code), SKIP_KEY)
            )
        if controls:
            rows.append(tuple(controls))
        return Reply("\n".join(parts), tuple(rows), question=True)

    def _follow_up_choice(self, survey: SurveySession) -> Reply:
        """May the bot write once when the result is returned? An explicit choice, neither
        pre-selected; "back" returns to the screener."""
        language = survey.language
        rows: list[tuple[Button, ...]] = [
            (Button(self._text(language, "result_follow_up.yes"), f"{RESULT_CHOICE}:yes", "1"),),
            (Button(self._text(language, "result_follow_up.no"), f"{RESULT_CHOICE}:no", "2"),),
        ]
        if survey.current_item is not None:
            back = choice_data(BACK, survey.current_item)
            rows.append((Button(self._text(language, "back"), back, BACK_KEY),))
        text = self._text(language, "result_follow_up.ask", days=self.config.result_follow_up_days)
        return Reply(text, tuple(rows), question=True)

    def _where(self, language: str, progress: Progress) -> str:
        """The header of a question: "Phần 2/8 · Thủ tục hành chính · Câu 1/4"; the section
        left out where there is only one, the item where the section has only one."""
        parts = []
        if progress.sections > 1:
            parts.append(
                self._text(
                    language,
                    "progress.section",
                    number=progress.section_number,
                    sections=progress.sections,
                    label=progress.section.label[language],
                )
            )
        if progress.total > 1:
            parts.append(
                self._text(
                    language, "progress.item", position=progress.position, total=progress.total
                )
            )
        return " · ".join(parts)

    # --- helpers -------------------------------------------------------------------------

    def _questions(self, survey: SurveySession) -> Questionnaire:
        """What this session asks: the result block for a follow-up, else the questionnaire
        as asked at the session's stage."""
        if survey.round_code is not None:
            return self._round_form(survey)
        if survey.result_follow_up_id is not None:
            return self._result_block
        return self._asked.get(survey.stage, self.questionnaire)

    def _asks_follow_up(self, survey: SurveySession, answers: Mapping[str, str | None]) -> bool:
        """Whether the follow-up choice is the step now: "not yet received" was just
        answered, at reception, on a chat the bot can write to later, and not asked before;
        and the survey came from a per-dossier invitation, the only thing the one-stop
        system can name when the result is returned (from a counter's poster, an address
        kept could never serve)."""
        moment = self.questionnaire.result_moment
        return (
            moment is not None
            and self.config.result_follow_up_days > 0
            and survey.status == "active"
            and survey.invitation_id is not None
            and survey.channel in self.config.result_follow_up_channels
            and survey.stage == Stage.RECEPTION
            and survey.result_follow_up_agreed is None
            and answers.get(moment.screener) == moment.pending
        )

    def _language(self, inbound: Inbound, survey: SurveySession | None) -> str:
        if survey is not None:
            return survey.language
        if inbound.locale in self.questionnaire.languages:
            return inbound.locale
        return self.config.default_language

    def _text(self, language: str, key: str, **values: object) -> str:
        return self.catalog.text(language, key, **values)

    @staticmethod
    def _touch(survey: SurveySession, now: datetime) -> None:
        survey.last_activity_at = now
        survey.version += 1


def _start_payload(typed: str) -> str | None:
    """The payload in a first message like "AB3D-EF7H" or "start AB3DEF7H", if there is one."""
    typed = _after_word(typed, START_WORDS) or typed
    if typed.startswith((COUNTER_PREFIX, INVITATION_PREFIX)) or normalise_short_code(typed):
        return typed
    return None


def _after_word(typed: str, words: Sequence[str]) -> str | None:
    """What follows one of `words` at the start of `typed` ("moi AB3DEF7H"), or None."""
    lowered = typed.casefold()
    for word in words:
        if lowered.startswith(word + " "):
            return typed[len(word) + 1 :].strip()
    return None


def _choosing(surface: Surface) -> str:
    """How choices are made on `surface`, as the hints' message keys name it."""
    if surface.buttons:
        return "both" if surface.numbers else "buttons"
    return "numbers"


def _rows(buttons: Sequence[Button], *, paired: bool = True) -> tuple[tuple[Button, ...], ...]:
    """`buttons` one to a row, but two short ones side by side when `paired` (Nam | Nữ)."""
    rows: list[tuple[Button, ...]] = []
    for button in buttons:
        previous = rows[-1] if rows else ()
        if (
            paired
            and len(previous) == 1
            and len(previous[0].label) <= SHORT_LABEL
            and len(button.label) <= SHORT_LABEL
        ):
            rows[-1] = (previous[0], button)
        else:
            rows.append((button,))
    return tuple(rows)
