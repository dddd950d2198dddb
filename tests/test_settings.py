"""Settings: defaults that work out of the box, and one clear line per wrong value."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.assembly import build_engine
from bot.cli import cli
from bot.settings import SettingsError, load_settings
from questionnaires import load_bundled
from storage.db import Database
from tests.conftest import TEST_SECRET

POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def test_the_embedded_default_needs_nothing_and_generates_an_owner_only_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./sipas.db"
    assert settings.timezone == "Asia/Ho_Chi_Minh"
    assert settings.default_language == "vi"
    secret_file = tmp_path / "sipas.secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert "generated one into" in caplog.text
    assert load_settings().secret() == settings.secret()  # kept, not regenerated


def test_postgresql_without_a_secret_key_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIPAS_DATABASE_URL", POSTGRES)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert [str(problem) for problem in refused.value.problems] == [
        "SIPAS_SECRET_KEY: required with a PostgreSQL database (32+ random characters)"
    ]
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    assert load_settings().secret() == TEST_SECRET


def test_each_wrong_value_is_named_with_what_is_expected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIPAS_TIMEZONE", "Asia/Hanoi_City")
    monkeypatch.setenv("SIPAS_DATABASE_URL", "mysql://root@localhost/sipas")
    monkeypatch.setenv("SIPAS_DEFAULT_LANGUAGE", "fr")
    monkeypatch.setenv("SIPAS_SECRET_KEY", "short")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    problems = str(refused.value)
    assert "SIPAS_TIMEZONE: an IANA time zone such as Asia/Ho_Chi_Minh" in problems
    assert "SIPAS_DATABASE_URL: a URL starting sqlite+aiosqlite:///" in problems
    assert "SIPAS_DEFAULT_LANGUAGE:" in problems and "'vi' or 'en'" in problems
    assert "SIPAS_SECRET_KEY: at least 32 characters" in problems
    assert "short" not in problems  # a secret is never echoed
    assert len(refused.value.problems) == 4


def test_a_command_with_bad_settings_exits_with_every_problem_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIPAS_TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("SIPAS_HTTP_PORT", "99999")
    result = CliRunner().invoke(cli, ["units", "list"])
    assert result.exit_code == 1
    assert "invalid settings:" in result.output
    assert "SIPAS_TIMEZONE" in result.output and "SIPAS_HTTP_PORT" in result.output


def test_settings_are_also_read_from_a_dot_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SIPAS_DEFAULT_LANGUAGE=en\nSIPAS_MIN_CELL_SIZE=20\n")
    settings = load_settings()
    assert (settings.default_language, settings.min_cell_size) == ("en", 20)


def test_channel_settings_are_checked_where_the_platforms_would_refuse_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIPAS_TELEGRAM_BOT_USERNAME", "@sipas_hanoi_bot")
    assert load_settings().telegram_bot_username == "sipas_hanoi_bot"  # the @ is dropped
    monkeypatch.setenv("SIPAS_TELEGRAM_BOT_USERNAME", "not a bot")
    monkeypatch.setenv("SIPAS_TELEGRAM_WEBHOOK_SECRET", "bad secret!")
    monkeypatch.setenv("SIPAS_ZALO_BOT_WEBHOOK_SECRET", "short")
    monkeypatch.setenv("SIPAS_ZALO_OA_ID", "https://zalo.me/579745863508352884")
    monkeypatch.setenv("SIPAS_WEB_STARTS_PER_HOUR", "0")
    monkeypatch.setenv("SIPAS_PUBLIC_URL", "http://survey.example.gov.vn")
    monkeypatch.setenv("SIPAS_LOG_LEVEL", "debug")  # any case is fine
    with pytest.raises(SettingsError) as refused:
        load_settings()
    named = sorted(str(problem.column) for problem in refused.value.problems)
    assert named == [
        "SIPAS_PUBLIC_URL",
        "SIPAS_TELEGRAM_BOT_USERNAME",
        "SIPAS_TELEGRAM_WEBHOOK_SECRET",
        "SIPAS_WEB_STARTS_PER_HOUR",
        "SIPAS_ZALO_BOT_WEBHOOK_SECRET",
        "SIPAS_ZALO_OA_ID",
    ]
    monkeypatch.setenv("SIPAS_ZALO_OA_ID", "579745863508352884")
    for name in ("BOT_USERNAME", "WEBHOOK_SECRET"):
        monkeypatch.delenv(f"SIPAS_TELEGRAM_{name}")
    for name in ("ZALO_BOT_WEBHOOK_SECRET", "WEB_STARTS_PER_HOUR", "PUBLIC_URL"):
        monkeypatch.delenv(f"SIPAS_{name}")
    settings = load_settings()
    assert (settings.zalo_oa_id, settings.web_starts_per_hour) == ("579745863508352884", 30)


def test_the_zalo_oa_needs_its_two_different_secret_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIPAS_ZALO_OA_APP_ID", "1234567890123456789")
    with pytest.raises(SettingsError) as missing:
        load_settings()
    monkeypatch.setenv("SIPAS_ZALO_OA_SECRET_KEY", "the-one-key-pasted-twice")
    monkeypatch.setenv("SIPAS_ZALO_APP_SECRET_KEY", "the-one-key-pasted-twice")
    with pytest.raises(SettingsError) as same:
        load_settings()
    monkeypatch.setenv("SIPAS_ZALO_APP_SECRET_KEY", "the-apps-own-secret-key")
    settings = load_settings()

    assert sorted(str(problem.column) for problem in missing.value.problems) == [
        "SIPAS_ZALO_APP_SECRET_KEY",
        "SIPAS_ZALO_OA_SECRET_KEY",
    ]
    assert "Webhook page" in str(missing.value)
    [problem] = [str(problem) for problem in same.value.problems]
    assert problem.startswith(
        "SIPAS_ZALO_APP_SECRET_KEY: the same value as SIPAS_ZALO_OA_SECRET_KEY"
    )
    assert "the-one-key-pasted-twice" not in problem
    assert settings.zalo_app_secret_key is not None and settings.zalo_oa_secret_key is not None


def test_only_a_readable_zalo_verification_page_is_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "zalo_verifierQ2cZ8.html"
    page.write_text("<html></html>")
    (tmp_path / "secrets.html").write_text("not for the web root")
    problems: dict[str, str] = {}
    for path in (tmp_path / "secrets.html", tmp_path / "zalo_verifierGone.html"):
        monkeypatch.setenv("SIPAS_ZALO_DOMAIN_VERIFICATION_FILE", str(path))
        with pytest.raises(SettingsError) as refused:
            load_settings()
        [problems[path.name]] = [str(problem) for problem in refused.value.problems]
    monkeypatch.setenv("SIPAS_ZALO_DOMAIN_VERIFICATION_FILE", str(page))

    assert load_settings().zalo_domain_verification_file == page
    assert "named zalo_verifier<code>.html" in problems["secrets.html"]
    assert "no readable file there" in problems["zalo_verifierGone.html"]
    assert all(p.startswith("SIPAS_ZALO_DOMAIN_VERIFICATION_FILE: ") for p in problems.values())


def test_a_short_or_misplaced_secret_file_is_refused_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "empty.secret").write_text("\n")
    monkeypatch.setenv("SIPAS_SECRET_KEY_FILE", str(tmp_path / "empty.secret"))
    with pytest.raises(SettingsError, match="fewer than 32 characters"):
        load_settings()
    monkeypatch.setenv("SIPAS_SECRET_KEY_FILE", str(tmp_path / "missing" / "sipas.secret"))
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings()


def test_an_unknown_questionnaire_or_method_stops_a_command_before_any_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIPAS_QUESTIONNAIRE", "nope")
    monkeypatch.setenv("SIPAS_METHOD", "/nonexistent.yaml")
    result = CliRunner().invoke(cli, ["chat", "--service-point", "HN-00004-01"])
    assert result.exit_code == 1
    assert "SIPAS_QUESTIONNAIRE: no questionnaire 'nope'" in result.output
    assert "SIPAS_METHOD: no method '/nonexistent.yaml'" in result.output


def test_the_privacy_notice_settings_and_the_sensitive_items_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIPAS_DATA_CONTROLLER_PROVINCE", "tỉnh Quảng Ninh")
    monkeypatch.setenv("SIPAS_DATA_CONTROLLER_CONTACT", "  ")
    monkeypatch.setenv("SIPAS_RETENTION_MONTHS", "36")
    monkeypatch.setenv("SIPAS_SENSITIVE_ITEMS", " dan_toc ,")
    settings = load_settings()
    assert settings.data_controller_province == "tỉnh Quảng Ninh"
    assert settings.data_controller_contact is None  # blank: the notice names the one-stop shop
    assert (settings.retention_months, settings.sensitive_items) == (36, ("dan_toc",))
    assert load_settings(retention_months=24, sensitive_items=()).sensitive_items == ()

    monkeypatch.setenv("SIPAS_RETENTION_MONTHS", "0")
    with pytest.raises(SettingsError, match="SIPAS_RETENTION_MONTHS"):
        load_settings()


def test_a_sensitive_item_the_questionnaire_lacks_stops_a_command_before_any_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIPAS_SENSITIVE_ITEMS", "dan_toc,gioi_tinh")
    result = CliRunner().invoke(cli, ["chat", "--service-point", "HN-00004-01"])
    assert result.exit_code == 1
    assert "SIPAS_SENSITIVE_ITEMS: not a sensitive item of sipas-2023: gioi_tinh" in result.output


async def test_the_engine_built_from_the_settings_tells_their_notice_and_asks_what_they_allow() -> (
    None
):
    settings = load_settings(
        data_controller_province="tỉnh Quảng Ninh",
        data_controller_contact="0203 3835 000",
        retention_months=18,
    )
    database = Database(settings.database_url)
    try:
        engine = build_engine(settings, database)
        asking = build_engine(
            load_settings(sensitive_items=("dan_toc",), ask_profile=True), database
        )
    finally:
        await database.dispose()
    notice = engine.notice.short("vi")
    assert "Sở Nội vụ tỉnh Quảng Ninh" in notice and "0203 3835 000" in notice
    assert "18 tháng" in notice
    assert "dan_toc" not in [item.code for item in engine.questionnaire.items]
    assert "dan_toc" in [item.code for item in asking.questionnaire.items]
    assert asking.notice.version != engine.notice.version


async def test_the_profile_is_asked_only_where_the_deployment_says_so() -> None:
    profile = {"thong_tin", "gioi_tinh", "do_tuoi"}
    settings = load_settings()
    assert settings.ask_profile is True  # the indices are broken down by it: asked by default
    database = Database(settings.database_url)
    try:
        asking = build_engine(settings, database)
        not_asking = build_engine(load_settings(ask_profile=False), database)
    finally:
        await database.dispose()
    assert not profile & {item.code for item in not_asking.questionnaire.items}
    assert profile <= {item.code for item in asking.questionnaire.items}
    assert "respondent_type" in {item.code for item in not_asking.questionnaire.items}
    # The sections the respondent is told about leave the profile out: "Phần 7/7".
    last = not_asking.questionnaire.progress({}, "y_kien_khac")
    assert last.section_number == last.sections
    with pytest.raises(ValueError, match="dan_toc is part of the respondent profile"):
        load_bundled().asking(["dan_toc"], profile=False)
