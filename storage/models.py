"""Database tables of sipas-bot: units, counters, invitations, survey sessions, answers, responses."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite keeps no offset, so values are normalised to UTC on the way in and
    tagged as UTC on the way out; PostgreSQL stores them as timestamptz.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a timezone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


# --- Administrative geography -------------------------------------------------------------


class AdminUnit(Base):
    """A province, former district or commune-level unit (ward, commune, special region)."""

    __tablename__ = "admin_units"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    level: Mapped[str] = mapped_column(String(16))  # province | district | commune
    name: Mapped[str] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(250))
    full_name_en: Mapped[str | None] = mapped_column(String(250))
    unit_type: Mapped[str] = mapped_column(String(40))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("admin_units.code"), index=True)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)


class UnitCrosswalk(Base):
    """One old commune (wholly or partly) merged into a current unit by the 2025 reform.

    Old communes are not admin units here: their codes were reused by the new
    units, so they live only in this table, named by code and name.
    """

    __tablename__ = "unit_crosswalk"
    __table_args__ = (UniqueConstraint("new_code", "old_commune_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    new_code: Mapped[str] = mapped_column(ForeignKey("admin_units.code"), index=True)
    old_commune_code: Mapped[str] = mapped_column(String(16))
    old_commune_name: Mapped[str] = mapped_column(String(250))
    old_district_code: Mapped[str] = mapped_column(ForeignKey("admin_units.code"), index=True)
    partial: Mapped[bool] = mapped_column(Boolean)


class Agency(Base):
    """A provincial department (Sở) or a branch of the public administrative service centre."""

    __tablename__ = "agencies"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(250))
    name_en: Mapped[str | None] = mapped_column(String(250))
    kind: Mapped[str] = mapped_column(String(32))  # department | service_centre_branch | other
    unit_code: Mapped[str] = mapped_column(ForeignKey("admin_units.code"), index=True)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)


class ServicePoint(Base):
    """A one-stop counter (Bộ phận Một cửa desk) where transactions happen and QR codes hang."""

    __tablename__ = "service_points"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(250))
    name_en: Mapped[str | None] = mapped_column(String(250))
    unit_code: Mapped[str] = mapped_column(ForeignKey("admin_units.code"), index=True)
    agency_code: Mapped[str | None] = mapped_column(ForeignKey("agencies.code"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)


class Procedure(Base):
    """An administrative procedure (thủ tục hành chính) of the catalogue: its field (lĩnh vực),
    the level of authority that resolves it, and the authority that does by default."""

    __tablename__ = "procedures"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    field: Mapped[str] = mapped_column(String(250))
    authority_level: Mapped[str] = mapped_column(String(32))
    default_authority: Mapped[str | None] = mapped_column(String(32))
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)


class DossierVolume(Base):
    """How many dossiers (hồ sơ) a counter received on one day for one competent authority,
    as the one-stop system reports them: what coverage divides completed responses by."""

    __tablename__ = "dossier_volumes"

    service_point_code: Mapped[str] = mapped_column(
        ForeignKey("service_points.code"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    authority_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    dossiers: Mapped[int] = mapped_column(Integer)
    reported_at: Mapped[datetime]


# --- Invitations and survey state --------------------------------------------------------


class ApiKey(Base):
    """A key a one-stop information system uses to mint invitations; only its hash is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    unit_codes: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty = every unit
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class Invitation(Base):
    """A single-use, per-dossier invitation; the token and short code are stored only as hashes."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    short_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    service_point_code: Mapped[str] = mapped_column(ForeignKey("service_points.code"), index=True)
    dossier_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64), index=True)
    claimed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    # The dossier's moment it was minted at: reception (the whole survey, the result
    # screener asked) or result (the screener answered "received" in advance).
    stage: Mapped[str] = mapped_column(String(16), default="reception", server_default="reception")
    # What the rating is about (storage/attribution.py): the procedure (mã TTHC, if known),
    # the competent authority (an agency or unit code) and how the dossier was submitted.
    procedure_code: Mapped[str | None] = mapped_column(String(32))
    authority_code: Mapped[str | None] = mapped_column(String(32))
    submitted_via: Mapped[str] = mapped_column(
        String(16), default="direct", server_default="direct"
    )


class SurveyRound(Base):
    """A survey round (đợt khảo sát): a questionnaire version, its dates, its respondent groups
    with their targets and the units each group rates. `plan` is the validated round file as
    JSON (questionnaires/rounds.py); `questionnaire_source` the questionnaire's YAML, so the
    round asks the same form wherever it is served."""

    __tablename__ = "survey_rounds"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    questionnaire_id: Mapped[str] = mapped_column(String(64))
    questionnaire_version: Mapped[str] = mapped_column(String(32))
    questionnaire_source: Mapped[str] = mapped_column(Text)
    opens_on: Mapped[date] = mapped_column(Date)
    closes_on: Mapped[date] = mapped_column(Date)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class RoundInvitation(Base):
    """A single-use invitation of one group of a survey round. Only keyed hashes of its payload
    and short code are stored, and nothing of whom it was given to."""

    __tablename__ = "round_invitations"
    __table_args__ = (Index("ix_round_invitations_round_group", "round_code", "group_code"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    short_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    round_code: Mapped[str] = mapped_column(ForeignKey("survey_rounds.code"))
    group_code: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class Kiosk(Base):
    """A tablet at a counter running the web survey for one respondent after another.

    Its URL carries a random token; only the token's keyed hash is stored, so a lost
    URL is ended by revoking the kiosk, and a new one is issued.
    """

    __tablename__ = "kiosks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    service_point_code: Mapped[str] = mapped_column(ForeignKey("service_points.code"), index=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class SurveySession(Base):
    """One respondent's pass through a questionnaire, open or finished.

    `respondent_key` is a keyed hash of channel + platform user id, never the id
    itself. `address_ciphertext` (the encrypted chat address) exists only while the
    session is open, for a reminder, and is erased when it ends.

    `stage` is the dossier's moment the survey is asked at (its invitation's). A session
    with a `result_follow_up_id` asks only the result block, whose answers then join the
    response that follow-up belongs to.
    """

    __tablename__ = "survey_sessions"
    __table_args__ = (Index("ix_survey_sessions_respondent_status", "respondent_key", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    respondent_key: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    questionnaire_id: Mapped[str] = mapped_column(String(64))
    questionnaire_version: Mapped[str] = mapped_column(String(32))
    # None for a session of a survey round (officials rate units, at no counter).
    service_point_code: Mapped[str | None] = mapped_column(
        ForeignKey("service_points.code"), index=True
    )
    invitation_id: Mapped[str | None] = mapped_column(ForeignKey("invitations.id"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), index=True)
    current_item: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    last_activity_at: Mapped[datetime] = mapped_column(index=True)
    completed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
    address_ciphertext: Mapped[str | None] = mapped_column(Text)
    reminder_sent_at: Mapped[datetime | None]
    unreachable_at: Mapped[datetime | None]
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the respondent agreed, and to which privacy notice (a hash of its text): never who.
    consent_at: Mapped[datetime | None]
    notice_version: Mapped[str | None] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16), default="reception", server_default="reception")
    # The respondent's choice after "not yet received": may the bot write once when the
    # result is returned? None: not asked.
    result_follow_up_agreed: Mapped[bool | None] = mapped_column(Boolean)
    result_follow_up_id: Mapped[str | None] = mapped_column(String(32))
    # A session of a survey round (not the continuous citizen survey): the round, the
    # respondent's group, the invitation it was started from, and the units rated in turn,
    # in the order asked (answers to the rated-unit block carry the unit's place: `D1#2`).
    round_code: Mapped[str | None] = mapped_column(String(40), index=True)
    group_code: Mapped[str | None] = mapped_column(String(40))
    round_invitation_id: Mapped[str | None] = mapped_column(String(32), index=True)
    rated_units: Mapped[list[str] | None] = mapped_column(JSON)

    answers: Mapped[list[Answer]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True
    )


class Answer(Base):
    """The answer to one item in one session; `value` None means the respondent skipped it."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("session_id", "item_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Looked up through the unique (session_id, item_code), whose index starts with it.
    session_id: Mapped[int] = mapped_column(ForeignKey("survey_sessions.id", ondelete="CASCADE"))
    item_code: Mapped[str] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime]

    session: Mapped[SurveySession] = relationship(back_populates="answers")


class Response(Base):
    """A completed survey: what the indices count, with its reporting day in local time."""

    __tablename__ = "responses"
    __table_args__ = (
        Index("ix_responses_day_point", "reporting_day", "service_point_code"),
        Index("ix_responses_respondent_point", "respondent_key", "service_point_code"),
        # Only the responses stored without quality facts: what `record_missing_facts`
        # looks for before a day is counted, so finding none reads nothing.
        Index(
            "ix_responses_missing_facts",
            "reporting_day",
            sqlite_where=text("scale_answers IS NULL"),
            postgresql_where=text("scale_answers IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("survey_sessions.id", ondelete="CASCADE"), unique=True
    )
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    service_point_code: Mapped[str] = mapped_column(ForeignKey("service_points.code"))
    respondent_type: Mapped[str] = mapped_column(String(16))  # citizen | organisation
    channel: Mapped[str] = mapped_column(String(16))
    questionnaire_id: Mapped[str] = mapped_column(String(64))
    questionnaire_version: Mapped[str] = mapped_column(String(32))
    invitation_id: Mapped[str | None] = mapped_column(ForeignKey("invitations.id"))
    respondent_key: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime]
    reporting_day: Mapped[date] = mapped_column(Date)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # Facts the quality flags are judged on (storage/response_facts.py), recorded at
    # completion; scale_answers NULL means not recorded yet (the aggregation fills them in).
    scale_answers: Mapped[int | None] = mapped_column(Integer)
    uniform_value: Mapped[str | None] = mapped_column(String(64))
    median_gap_seconds: Mapped[float | None] = mapped_column(Float)
    # The consent its session recorded; empty for imported responses (consent given on paper)
    # and those completed before consent was recorded.
    consent_at: Mapped[datetime | None]
    notice_version: Mapped[str | None] = mapped_column(String(16))
    # What the rating is about (storage/attribution.py): the procedure (mã TTHC, if known),
    # the competent authority (an agency or unit code) and how the dossier was submitted.
    procedure_code: Mapped[str | None] = mapped_column(String(32))
    authority_code: Mapped[str | None] = mapped_column(String(32))
    submitted_via: Mapped[str] = mapped_column(
        String(16), default="direct", server_default="direct"
    )


class ResultFollowUp(Base):
    """A respondent's leave to be asked the result block once, when the dossier's result is
    returned: the chat address to ask it in, kept apart from the answers and only for that.

    Named by an opaque random id (the follow-up session carries it). The address is
    encrypted with a key derived from the deployment secret, and erased when the message
    is sent, when the platform will not deliver it, or at `keep_until` at the latest.
    Without the address, the row is only the fact of what became of it, for the coverage
    figures, and goes with its response.
    """

    __tablename__ = "result_follow_ups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), unique=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    address_ciphertext: Mapped[str | None] = mapped_column(Text)
    # waiting | due | sent | answered | unreachable | expired (storage/result_follow_ups.py)
    status: Mapped[str] = mapped_column(String(16), index=True)
    agreed_at: Mapped[datetime]
    keep_until: Mapped[datetime] = mapped_column(index=True)
    result_returned_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]


class RetentionRun(Base):
    """One application of the retention period: the day before which responses were deleted,
    and how many rows went. The latest `cutoff_day` is also where recounting stops: the
    daily counts of earlier days are all that remains of them."""

    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ran_at: Mapped[datetime]
    cutoff_day: Mapped[date] = mapped_column(Date, index=True)
    responses: Mapped[int] = mapped_column(Integer)
    unfinished_sessions: Mapped[int] = mapped_column(Integer)
    invitations: Mapped[int] = mapped_column(Integer)


class DirtyDay(Base):
    """A reporting day whose responses changed since the last aggregation run."""

    __tablename__ = "dirty_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    marked_at: Mapped[datetime]


class ProcessedEvent(Base):
    """A platform event already handled: a second delivery of it stops here."""

    __tablename__ = "processed_events"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(index=True)


# --- Staff and operations ------------------------------------------------------------------


class StaffAccount(Base):
    """A staff member of the department of home affairs or of a unit (staff ids may be kept)."""

    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # viewer | admin
    unit_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    telegram_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrolment_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrolment_expires_at: Mapped[datetime | None]
    # The expiry of the newest password code: an older code (sent to the wrong person, say)
    # stops working when new codes are issued. None for codes issued before this existed.
    password_code_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]


class StaffLoginFailure(Base):
    """A failed dashboard login, kept for the rate limit's window, by what it was counted
    against: the client's address or the login name, only as a keyed hash."""

    __tablename__ = "staff_login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    failed_at: Mapped[datetime] = mapped_column(index=True)


class EndedStaffSession(Base):
    """A dashboard session cookie ended by logout, kept (as a keyed hash) until it would have
    expired anyway: every worker refuses it."""

    __tablename__ = "ended_staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Lease(Base):
    """A named lease so that a periodic job runs in one process only."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


class SharedLimit(Base):
    """A token bucket the worker processes share: Telegram's flood limit of the bot, of a group
    chat, an API key's rate limit (`storage.shared_limits`).

    `tokens` below zero are turns already promised to senders that wait for them. `at` is
    when the bucket was last taken from, in seconds of the clock the workers share. A group
    chat's bucket is named by a keyed hash of its id, never the id.
    """

    __tablename__ = "shared_limits"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    at: Mapped[float] = mapped_column(Float, index=True)


class ChannelCredential(Base):
    """Rotating platform credentials (Zalo OA token pair), encrypted with the deployment key."""

    __tablename__ = "channel_credentials"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    access_token_ciphertext: Mapped[str | None] = mapped_column(Text)
    refresh_token_ciphertext: Mapped[str] = mapped_column(Text)
    access_expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)


class ReplyWindow(Base):
    """A respondent's last message on a platform that answers it for free for a while (Zalo
    OA: 8 replies within 48 h of each message they send): which message, when it came, how
    many replies have answered it.

    Keyed by the respondent key. The message id is encrypted like a chat address: with the
    OA's token it lets one write to the person. A window older than the platform's limit
    is useless and deleted.
    """

    __tablename__ = "reply_windows"

    respondent_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_ciphertext: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(index=True)
    replies: Mapped[int] = mapped_column(Integer)


class LiveKeyboard(Base):
    """The bot's messages in a respondent's chat whose buttons still answer (Telegram): the
    next message with buttons takes their place, and theirs are removed, so a chat shows
    only the current step's.

    Keyed by the respondent key. Message ids are kept in clear: they count the messages of
    one chat (1, 2, 3 …), and without the chat's id, which is never stored, they name nothing.
    """

    __tablename__ = "live_keyboards"

    respondent_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_ids: Mapped[str] = mapped_column(String(200))  # "12,13": oldest first
    updated_at: Mapped[datetime] = mapped_column(index=True)


# --- Aggregation ---------------------------------------------------------------------------


class ResponseQuality(Base):
    """The quality flags of one completed response, computed by the nightly aggregation.

    `flagged` is true when any flag is set; which flags leave a response out of the
    cleaned indices is the method's rule (`analytics.method`); the raw ones keep it.
    """

    __tablename__ = "response_quality"

    # The foreign key costs the recount a check per row (about 40% of the flags statement
    # on PostgreSQL), and is kept: SQLite reuses the id of a deleted last response, so a
    # row outliving its response could be taken for another's.
    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    reporting_day: Mapped[date] = mapped_column(Date, index=True)
    straight_lining: Mapped[bool] = mapped_column(Boolean)
    speeding: Mapped[bool] = mapped_column(Boolean)
    repeated: Mapped[bool] = mapped_column(Boolean)
    flagged: Mapped[bool] = mapped_column(Boolean)


def _identified_by(*columns: str) -> dict[str, Any]:
    """The mapper arguments of a daily count table, whose rows have no key of their own in the
    database (a day's rows are written and read together, never one by one: migration 0024
    says what the key cost). The ORM needs an identity, so it is told the columns that tell
    one row from another."""
    return {"primary_key": columns}


_DAILY_CELL = (
    "day",
    "service_point_code",
    "authority_code",
    "procedure_code",
    "respondent_type",
    "channel",
    "flags",
)
"""What tells apart the daily counts' and respondents' rows of one item and value: the day and
the cell (counts.py's `_CELL`, whose `flagged` follows from `flags`)."""


class DailyCount(Base):
    """How many answers took one value of one item, per day and cell: what indices are computed from.

    `value` None counts skipped answers (kept for transparency; out of every denominator).
    """

    __tablename__ = "daily_counts"
    __table_args__ = (Index("ix_daily_counts_day", "day"),)
    __mapper_args__ = _identified_by(*_DAILY_CELL, "item_code", "value")

    day: Mapped[date] = mapped_column(Date)
    service_point_code: Mapped[str] = mapped_column(String(32))
    respondent_type: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    flagged: Mapped[bool] = mapped_column(Boolean)
    flags: Mapped[int] = mapped_column(SmallInteger, default=0)  # counts.QUALITY_FLAGS bits
    item_code: Mapped[str] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(String(64))
    answers: Mapped[int] = mapped_column(Integer)
    authority_code: Mapped[str | None] = mapped_column(String(32))
    procedure_code: Mapped[str | None] = mapped_column(String(32))


class DailyRespondents(Base):
    """How many completed responses a cell had on one day (the n of every index of that cell)."""

    __tablename__ = "daily_respondents"
    __table_args__ = (Index("ix_daily_respondents_day", "day"),)
    __mapper_args__ = _identified_by(*_DAILY_CELL)

    day: Mapped[date] = mapped_column(Date)
    service_point_code: Mapped[str] = mapped_column(String(32))
    respondent_type: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    flagged: Mapped[bool] = mapped_column(Boolean)
    flags: Mapped[int] = mapped_column(SmallInteger, default=0)  # counts.QUALITY_FLAGS bits
    respondents: Mapped[int] = mapped_column(Integer)
    authority_code: Mapped[str | None] = mapped_column(String(32))
    procedure_code: Mapped[str | None] = mapped_column(String(32))


class DailyBandCount(Base):
    """How many answers an item took of each value of the satisfaction scale (`answers_1` …
    `answers_5`), per day, cell and profile band (the respondents who gave `band` to the
    profile item `profile_item`): what breakdowns are computed from. A band's respondents are
    the daily counts of the profile item itself.

    One row per item, not per value: the scale is the same five values for every scale item
    (`questionnaires.model.SATISFACTION_VALUES`), and a day's band rows are the night's largest
    write (migration 0025 says what a row per value cost)."""

    __tablename__ = "daily_band_counts"
    __table_args__ = (Index("ix_daily_band_counts_day", "day"),)
    __mapper_args__ = _identified_by(
        "day",
        "service_point_code",
        "respondent_type",
        "flags",
        "profile_item",
        "band",
        "item_code",
    )

    day: Mapped[date] = mapped_column(Date)
    service_point_code: Mapped[str] = mapped_column(String(32))
    respondent_type: Mapped[str] = mapped_column(String(16))
    flags: Mapped[int] = mapped_column(SmallInteger)  # counts.QUALITY_FLAGS bits
    profile_item: Mapped[str] = mapped_column(String(64))
    band: Mapped[str] = mapped_column(String(64))
    item_code: Mapped[str] = mapped_column(String(64))
    answers_1: Mapped[int] = mapped_column(Integer)
    answers_2: Mapped[int] = mapped_column(Integer)
    answers_3: Mapped[int] = mapped_column(Integer)
    answers_4: Mapped[int] = mapped_column(Integer)
    answers_5: Mapped[int] = mapped_column(Integer)


class AggregationRun(Base):
    """One run of the aggregation job: what it recomputed, when, and how it ended."""

    __tablename__ = "aggregation_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mode: Mapped[str] = mapped_column(String(16))  # dirty | days | full
    holder: Mapped[str] = mapped_column(String(128))
    questionnaire_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)  # running | succeeded | failed
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    first_day: Mapped[date | None] = mapped_column(Date)
    last_day: Mapped[date | None] = mapped_column(Date)
    days: Mapped[int] = mapped_column(Integer, default=0)
    responses: Mapped[int] = mapped_column(Integer, default=0)
    flagged_responses: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)


# --- PAR Index scorecards ------------------------------------------------------------------


class ParYear(Base):
    """An assessment year of the PAR Index: the criteria it was opened with, kept whole (text
    and SHA-256), so that its scorecards never change under it when a file does."""

    __tablename__ = "par_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    scheme_id: Mapped[str] = mapped_column(String(64))
    criteria_sha256: Mapped[str] = mapped_column(String(64))
    criteria_text: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime]


class ParScorecard(Base):
    """One assessed unit's scorecard in one year: a Sở (tree `department`, an agency code) or
    a UBND xã/phường (tree `commune`, a unit code); its name as it was when opened."""

    __tablename__ = "par_scorecards"
    __table_args__ = (UniqueConstraint("year", "unit_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    year: Mapped[int] = mapped_column(ForeignKey("par_years.year"))
    tree: Mapped[str] = mapped_column(String(16))  # department | commune
    unit_code: Mapped[str] = mapped_column(String(32))
    unit_name: Mapped[str] = mapped_column(String(250))
    opened_at: Mapped[datetime]


class ParSelfScore(Base):
    """A unit's own score of one criterion, with its evidence (document number or link) and
    note, as last imported from the unit's file."""

    __tablename__ = "par_self_scores"
    __table_args__ = (UniqueConstraint("scorecard_id", "criterion_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("par_scorecards.id"))
    criterion_code: Mapped[str] = mapped_column(String(32))
    points: Mapped[float] = mapped_column(Float)
    evidence: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    source_file: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[datetime]


class ParAppraisal(Base):
    """One adjustment of the appraisal council to a criterion: the points it sets, why, and
    which staff admin recorded it. Rows are only ever added (the newest counts), so the
    history of a score is never lost."""

    __tablename__ = "par_appraisals"
    __table_args__ = (Index("ix_par_appraisals_criterion", "scorecard_id", "criterion_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("par_scorecards.id"))
    criterion_code: Mapped[str] = mapped_column(String(32))
    points: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    staff_account_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"))
    channel: Mapped[str] = mapped_column(String(16))  # cli | file | dashboard
    recorded_at: Mapped[datetime]
