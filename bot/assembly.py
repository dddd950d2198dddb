"""Wiring shared by the commands: the survey engine and links built from the settings."""

from __future__ import annotations

from datetime import timedelta

from analytics.layout import bundled_layout
from analytics.method import Method, load_method
from bot.settings import Settings
from handlers.privacy_notice import PrivacyNotice
from handlers.staff import StaffCommands
from handlers.survey import EngineConfig, SurveyEngine, survey_notice
from questionnaires import Questionnaire, load_bundled, load_questionnaire
from storage.counts import QualityRules
from storage.db import Database
from web.dashboard.paths import DASHBOARD_PREFIX


def questionnaire_definition(settings: Settings) -> Questionnaire:
    """The questionnaire named by SIPAS_QUESTIONNAIRE (a file or bundled id), else the default,
    as defined: every sensitive item in it."""
    name = settings.questionnaire
    if name and name.endswith((".yaml", ".yml")):
        return load_questionnaire(name)
    return load_bundled(name)


def questionnaire_for(settings: Settings) -> Questionnaire:
    """The questionnaire in use: its definition with only the sensitive items
    SIPAS_SENSITIVE_ITEMS switches on, and its profile only where SIPAS_ASK_PROFILE is true."""
    return questionnaire_definition(settings).asking(
        settings.sensitive_items, profile=settings.ask_profile
    )


def engine_config(settings: Settings) -> EngineConfig:
    reminder = settings.reminder_after_minutes
    return EngineConfig(
        secret=settings.secret(),
        zone=settings.zone,
        default_language=settings.default_language,
        data_controller=settings.data_controller,
        data_controller_province=settings.data_controller_province,
        data_controller_contact=settings.data_controller_contact,
        retention_months=settings.retention_months,
        resume_window=timedelta(hours=settings.resume_window_hours),
        reminder_after=timedelta(minutes=reminder) if reminder is not None else None,
        max_comment_length=settings.max_comment_length,
        result_follow_up_days=settings.result_followup_days,
    )


def build_engine(
    settings: Settings, database: Database, *, simulated: bool = False
) -> SurveyEngine:
    return SurveyEngine(
        database, questionnaire_for(settings), engine_config(settings), simulated=simulated
    )


def privacy_notice(settings: Settings) -> PrivacyNotice:
    """The privacy notice respondents are shown (the one `build_engine`'s engine shows)."""
    return survey_notice(engine_config(settings), questionnaire_for(settings))


def method_for(settings: Settings) -> Method:
    """The index method in use: a bundled method id or a file named by SIPAS_METHOD."""
    return load_method(settings.method)


def staff_commands(settings: Settings, database: Database) -> StaffCommands:
    """Staff chat commands, with the same method and suppression as every other output."""
    method = method_for(settings)
    return StaffCommands(
        database,
        secret=settings.secret(),
        zone=settings.zone,
        layout=bundled_layout(method.questionnaire),
        method=method,
        min_cell_size=settings.min_cell_size,
        dashboard_url=(
            f"{settings.public_url.rstrip('/')}{DASHBOARD_PREFIX}" if settings.public_url else None
        ),
    )


def quality_rules(settings: Settings, *, speeding_seconds: float | None = None) -> QualityRules:
    """Which responses count and how they are flagged, from the settings."""
    return QualityRules(
        speeding_seconds_per_item=(
            settings.speeding_seconds if speeding_seconds is None else speeding_seconds
        ),
        count_simulated=settings.include_simulated,
    )
