"""Settings of a deployment: `SIPAS_*` environment variables, also read from `.env`."""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat
from collections.abc import Sequence
from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from problems import Problem, ProblemsFound, tally

log = logging.getLogger(__name__)

MIN_SECRET_LENGTH = 32
BOT_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{1,28}[Bb][Oo][Tt]$")
TELEGRAM_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# Zalo names the file it gives to verify a domain zalo_verifier<code>.html.
ZALO_VERIFICATION_FILE = re.compile(r"^zalo_verifier[A-Za-z0-9_-]+\.html$")
MAX_VERIFICATION_FILE_BYTES = 64 * 1024
# The two databases a URL may name (its scheme and driver), told apart without SQLAlchemy.
EMBEDDED_DATABASE = "sqlite+aiosqlite://"
SERVER_DATABASE = "postgresql+asyncpg://"
ZALO_OA_ID = re.compile(r"^[0-9]{5,32}$")


class SettingsError(ProblemsFound):
    """Start-up refused: one problem per bad setting, naming it and what is expected."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(
            problems,
            summary=f"invalid settings: {tally(problems)} (SIPAS_* environment variables or .env)",
        )


class Settings(BaseSettings):
    """Everything an operator can set. Names are a stable surface: see docs/operations.md."""

    model_config = SettingsConfigDict(
        env_prefix="SIPAS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite+aiosqlite:///./sipas.db"
    secret_key: SecretStr | None = None
    secret_key_file: Path = Path("./sipas.secret")
    timezone: str = "Asia/Ho_Chi_Minh"
    default_language: Literal["vi", "en"] = "vi"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # The survey
    questionnaire: str | None = None
    # Sensitive items of the questionnaire to ask (ethnicity: dan_toc); none by default.
    sensitive_items: Annotated[tuple[str, ...], NoDecode] = ()
    # The respondent profile (gender, age band, education, occupation, area), behind its one-tap
    # gate: asked by default, since the indices are broken down by it (exports, dashboard);
    # off where a deployment does not publish breakdowns (data minimisation).
    ask_profile: bool = True

    resume_window_hours: int = Field(48, ge=1, le=24 * 30)
    invitation_ttl_hours: int = Field(72, ge=1, le=24 * 365)
    reminder_after_minutes: int | None = Field(None, ge=5, le=48 * 60)
    max_comment_length: int = Field(1000, ge=50, le=4000)

    # The privacy notice and retention
    data_controller: str = "Sở Nội vụ"
    data_controller_province: str | None = None
    data_controller_contact: str | None = None
    retention_months: int = Field(24, ge=1, le=120)
    # The result follow-up: the longest a respondent's chat address is kept to ask the result
    # questions once the result is returned; 0 switches the follow-up off.
    result_followup_days: int = Field(60, ge=0, le=365)

    # Telegram
    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_bot_username: str = "sipas_bot"
    telegram_webhook_secret: SecretStr | None = None
    public_url: str | None = None

    # Web app
    metrics_token: SecretStr | None = None
    web_starts_per_hour: int = Field(30, ge=1, le=100_000)
    api_requests_per_minute: int = Field(120, ge=1, le=100_000)
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=1, le=65535)

    # Aggregation
    method: str = "sipas-2023-default"
    min_cell_size: int = Field(10, ge=1)
    speeding_seconds: float = Field(2.0, ge=0)
    include_simulated: bool = False
    coverage_target_pct: float = Field(60.0, ge=0, le=100)
    aggregate_at: time = time(1, 30)
    export_dir: Path = Path("./exports")
    plan_volumes: Path | None = None  # CSV of dossier volumes: the dashboard shows progress
    plan_margin: float = Field(5.0, gt=0, lt=50)  # percentage points, for plan_volumes

    # Zalo: the OA is on when its app id is set; then both of its secret keys are required.
    zalo_oa_app_id: str | None = None
    zalo_oa_id: str | None = None
    zalo_oa_secret_key: SecretStr | None = Field(None, validate_default=True)
    zalo_app_secret_key: SecretStr | None = Field(None, validate_default=True)
    zalo_domain_verification_file: Path | None = None
    zalo_oa_api_url: str = "https://openapi.zalo.me"
    zalo_oauth_url: str = "https://oauth.zaloapp.com"
    zalo_bot_token: SecretStr | None = None
    zalo_bot_api_url: str = "https://bot-api.zaloplatforms.com"
    zalo_bot_webhook_secret: SecretStr | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone such as Asia/Ho_Chi_Minh") from None
        return value

    @field_validator("sensitive_items", mode="before")
    @classmethod
    def _item_codes(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(code.strip() for code in value.split(",") if code.strip())
        return value

    @field_validator("data_controller_province", "data_controller_contact")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith((EMBEDDED_DATABASE, SERVER_DATABASE)):
            raise ValueError(
                "a URL starting sqlite+aiosqlite:/// (embedded) or postgresql+asyncpg:// "
                f"(server), not {value.split('://')[0]!r}"
            )
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"at least {MIN_SECRET_LENGTH} characters of random text")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("telegram_bot_username")
    @classmethod
    def _bare_username(cls, value: str) -> str:
        value = value.removeprefix("@")
        if not BOT_USERNAME.match(value):
            raise ValueError(
                "the bot's username without @: 5-32 letters, digits or _, ending in bot"
            )
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_secret_characters(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not TELEGRAM_WEBHOOK_SECRET.match(value.get_secret_value()):
            raise ValueError("1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram refuses others)")
        return value

    @field_validator("zalo_bot_webhook_secret")
    @classmethod
    def _zalo_secret_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not 8 <= len(value.get_secret_value()) <= 256:
            raise ValueError("8-256 characters (the Zalo Bot Platform's limit)")
        return value

    @field_validator("zalo_oa_secret_key")
    @classmethod
    def _zalo_oa_secret_key(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None and info.data.get("zalo_oa_app_id"):
            raise ValueError(
                "required with SIPAS_ZALO_OA_APP_ID: the OA Secret Key shown on the app's "
                "Webhook page (developers.zalo.me), which signs every webhook event"
            )
        return value

    @field_validator("zalo_app_secret_key")
    @classmethod
    def _zalo_app_secret_key(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        if value is None and info.data.get("zalo_oa_app_id"):
            raise ValueError(
                "required with SIPAS_ZALO_OA_APP_ID: the app's Secret Key (developers.zalo.me, "
                "the app's main settings), which refreshes the OA's access tokens"
            )
        oa_secret = info.data.get("zalo_oa_secret_key")
        if (
            value is not None
            and oa_secret is not None
            and value.get_secret_value() == oa_secret.get_secret_value()
        ):
            # The one mistake this guards against: a single key pasted for both, which makes
            # either every token refresh or every webhook fail against the real platform.
            raise ValueError(
                "the same value as SIPAS_ZALO_OA_SECRET_KEY, but Zalo gives two different keys: "
                "the app's Secret Key here, the OA Secret Key of the Webhook page there"
            )
        return value

    @field_validator("zalo_domain_verification_file")
    @classmethod
    def _zalo_verification_page(cls, value: Path | None) -> Path | None:
        # Only a file named as Zalo names them is served: a mistyped path must not publish
        # some other file at the web root.
        if value is None:
            return None
        if not ZALO_VERIFICATION_FILE.match(value.name):
            raise ValueError(
                "the HTML file Zalo gives to verify the domain, named zalo_verifier<code>.html"
            )
        try:
            size = value.stat().st_size
            with value.open("rb"):
                pass
        except OSError:
            raise ValueError("no readable file there (download it again from Zalo)") from None
        if size > MAX_VERIFICATION_FILE_BYTES:
            raise ValueError("larger than a verification page can be (64 KB)")
        return value

    @field_validator("zalo_oa_id")
    @classmethod
    def _numeric_oa_id(cls, value: str | None) -> str | None:
        # The link https://zalo.me/<OA id> opens the OA's chat.
        if value is not None and not ZALO_OA_ID.match(value):
            raise ValueError("the Official Account's numeric id, as in https://zalo.me/<OA id>")
        return value

    @field_validator("public_url")
    @classmethod
    def _https_public_url(cls, value: str | None) -> str | None:
        # Telegram and Zalo deliver webhooks over HTTPS only.
        if value and not value.startswith("https://"):
            raise ValueError("an https:// URL such as https://survey.example.gov.vn")
        return value.rstrip("/") if value else None

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.public_url and self.telegram_token and not self.telegram_webhook_secret:
            raise ValueError(
                "SIPAS_TELEGRAM_WEBHOOK_SECRET must be set when SIPAS_PUBLIC_URL enables webhooks"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith(EMBEDDED_DATABASE)

    def secret(self) -> str:
        """The deployment secret; on the embedded default one is generated on first use."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if not self.embedded:
            raise SettingsError(
                [
                    Problem(
                        column="SIPAS_SECRET_KEY",
                        message="required with a PostgreSQL database",
                        hint="32+ random characters",
                    )
                ]
            )
        return _local_secret(self.secret_key_file)


def _local_secret(path: Path) -> str:
    if path.exists():
        value = path.read_text().strip()
        if len(value) < MIN_SECRET_LENGTH:
            raise SettingsError(
                [
                    Problem(
                        column="SIPAS_SECRET_KEY_FILE",
                        message=f"{path} holds fewer than {MIN_SECRET_LENGTH} characters; restore "
                        "the file or delete it to generate a new secret (pseudonyms change)",
                    )
                ]
            )
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("%s is readable by others: chmod 600 it", path.resolve())
        return value
    if not path.parent.is_dir():
        raise SettingsError(
            [
                Problem(
                    column="SIPAS_SECRET_KEY_FILE",
                    message=f"the folder {path.parent} does not exist",
                    hint="create it first",
                )
            ]
        )
    value = secrets.token_urlsafe(48)
    # Created with owner-only permissions from the start, never world-readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    log.warning(
        "SIPAS_SECRET_KEY is not set: generated one into %s (readable by its owner only). "
        "Keep this file: respondent pseudonyms and tokens depend on it.",
        path.resolve(),
    )
    return value


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and `.env`, or SettingsError naming each bad value."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError([_describe(problem) for problem in error.errors()]) from None
    settings.secret()  # refuse now, not on the first survey, when no secret can be had
    return settings


def _describe(problem: object) -> Problem:
    assert isinstance(problem, dict)
    location = problem.get("loc") or ()
    field = str(location[0]) if location else ""
    message = str(problem.get("msg", "invalid")).removeprefix("Value error, ")
    if not field:
        return Problem(message=message)
    setting = f"SIPAS_{field.upper()}"
    if any(word in field for word in ("secret", "token", "password")):
        return Problem(column=setting, message=message)  # never echo a secret into a log
    return Problem(column=setting, message=f"{message} (got {problem.get('input')!r})")
