"""The privacy notice of Law 91/2025/QH15 in the chat, and the consent recorded with each response."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.assembly import engine_config as engine_config_of
from bot.cli import cli
from bot.settings import load_settings
from handlers.events import Command
from handlers.privacy_notice import PrivacyNotice
from handlers.survey import SurveyEngine, survey_notice
from questionnaires import load_bundled
from storage.db import Database
from storage.invitations import counter_payload
from storage.models import Response, SurveySession
from tests.conftest import TEST_SECRET
from tests.survey_driver import POINT, Clock, Respondent, add_counters, engine_config

COUNTER = counter_payload(TEST_SECRET, POINT)
HANOI = {
    "data_controller": "Sở Nội vụ",
    "data_controller_province": "thành phố Hà Nội",
    "data_controller_contact": "024 3825 0000, vanphong@sonoivu.hanoi.gov.vn",
    "retention_months": 18,
}
# A phone-sized chat shows about 35 characters a line, and 15 lines leave the question
# below the notice on the same screen.
PHONE_LINE = 35
PHONE_LINES = 15


@pytest.fixture
async def engine(database: Database) -> SurveyEngine:
    await add_counters(database)
    return SurveyEngine(database, load_bundled().asking(), engine_config(**HANOI))


def phone_lines(text: str) -> int:
    """How many lines `text` takes on a phone-sized screen."""
    return sum(max(1, -(-len(line) // PHONE_LINE)) for line in text.split("\n"))


async def test_the_short_notice_comes_first_as_a_message_of_its_own_and_fits_a_phone_screen(
    engine: SurveyEngine,
) -> None:
    notice, consent = await Respondent(engine, "1001", Clock()).start(COUNTER)

    assert not notice.question  # never edited into the next question: it stays in the chat
    assert phone_lines(notice.text) <= PHONE_LINES
    for fact in (
        "Sở Nội vụ thành phố Hà Nội",
        "18 tháng",
        "/xoa",
        "024 3825 0000",
        "không bắt buộc",
    ):
        assert fact in notice.text
    assert [(b.label, b.data, b.key) for b in notice.choices()] == [
        ("Xem toàn văn thông báo", "privacy:full", "/privacy")
    ]
    assert [b.data for b in consent.choices()][:2] == ["consent:yes", "consent:no"]


async def test_the_full_notice_says_who_why_what_how_long_which_rights_and_the_platforms_part(
    engine: SurveyEngine,
) -> None:
    citizen = Respondent(engine, "1001", Clock())
    await citizen.start(COUNTER)
    full, consent = await citizen.press("privacy:full")

    text = full.text
    assert "Bên kiểm soát dữ liệu cá nhân: Sở Nội vụ thành phố Hà Nội" in text
    assert "vanphong@sonoivu.hanoi.gov.vn" in text
    assert "91/2025/QH15" in text and "356/2025/NĐ-CP" in text
    assert "Mục đích xử lý" in text
    assert "thông tin cá nhân không bắt buộc" in text  # the optional profile, named as such
    assert "lưu 18 tháng" in text and "48 giờ" in text
    for right in ("rút lại sự đồng ý", "Truy cập", "chỉnh sửa", "Xoá", "Phản đối", "Khiếu nại"):
        assert right in text
    assert "Telegram, Zalo" in text and "điều khoản" in text  # the platform keeps messages too
    assert "dân tộc" not in text  # not asked here, so not announced
    assert consent.question and consent.choices()[0].data == "consent:yes"


async def test_the_full_notice_can_be_read_again_mid_survey_and_without_one(
    engine: SurveyEngine,
) -> None:
    citizen = Respondent(engine, "1001", Clock())
    await citizen.begin(COUNTER)
    await citizen.answer("citizen")

    full, question = await citizen.command(Command.PRIVACY)
    assert full.text.startswith("THÔNG BÁO XỬ LÝ DỮ LIỆU CÁ NHÂN")
    assert question.choices()[0].data == "a:15:1"  # and on with the survey where it was

    (alone,) = await Respondent(engine, "2002", Clock()).command(Command.PRIVACY)
    assert alone.text == full.text


async def test_switching_language_before_consent_shows_the_notice_in_that_language(
    engine: SurveyEngine,
) -> None:
    citizen = Respondent(engine, "1001", Clock())
    await citizen.start(COUNTER)
    notice, consent = await citizen.press("lang:en")

    assert consent.notice == "Switched to English."  # said beside it, not in a message more
    assert notice.text.startswith("ABOUT YOUR PERSONAL DATA")
    assert "kept for 18 months" in notice.text
    assert notice.choices()[0].label == "Read the full notice"
    assert consent.choices()[0].label == "I agree to take part"


async def test_each_response_records_when_consent_was_given_and_to_which_notice_never_who(
    engine: SurveyEngine, database: Database
) -> None:
    clock = Clock()
    citizen = Respondent(engine, "1001", clock)
    await citizen.start(COUNTER)
    consented_at = clock.now
    await citizen.press("consent:yes")
    await citizen.complete(COUNTER)

    async with database.reading() as tx:
        response = (await tx.execute(select(Response))).scalar_one()
        survey = (await tx.execute(select(SurveySession))).scalar_one()
    assert (response.consent_at, response.notice_version) == (consented_at, engine.notice.version)
    assert (survey.consent_at, survey.notice_version) == (consented_at, engine.notice.version)
    assert len(engine.notice.version) == 16 and "1001" not in engine.notice.version


async def test_declining_records_no_consent(engine: SurveyEngine, database: Database) -> None:
    citizen = Respondent(engine, "1001", Clock())
    await citizen.start(COUNTER)
    await citizen.press("consent:no")

    async with database.reading() as tx:
        survey = (await tx.execute(select(SurveySession))).scalar_one()
    assert (survey.status, survey.consent_at, survey.notice_version) == ("declined", None, None)


def test_the_notice_version_changes_with_any_word_the_respondent_could_read() -> None:
    base = PrivacyNotice(controller="Sở Nội vụ", province="tỉnh Quảng Ninh", contact="0203 1")
    assert base.version == PrivacyNotice("Sở Nội vụ", "tỉnh Quảng Ninh", "0203 1").version
    for changed in (
        PrivacyNotice("Sở Nội vụ", "tỉnh Quảng Ninh", "0203 2"),
        PrivacyNotice("Sở Nội vụ", "tỉnh Quảng Ninh", "0203 1", retention_months=36),
        PrivacyNotice(
            "Sở Nội vụ",
            "tỉnh Quảng Ninh",
            "0203 1",
            sensitive=[{"vi": "Dân tộc", "en": "Ethnicity"}],
        ),
    ):
        assert changed.version != base.version


def test_without_a_contact_the_notice_points_to_the_one_stop_shop() -> None:
    notice = PrivacyNotice(controller="Sở Nội vụ")
    assert "Liên hệ: Bộ phận Một cửa nơi Ông/Bà giải quyết thủ tục." in notice.short("vi")
    assert "Contact: the one-stop shop where you completed your procedure" in notice.short("en")


async def test_ethnicity_is_never_asked_unless_switched_on_and_then_announced_as_sensitive(
    database: Database,
) -> None:
    await add_counters(database)
    clock = Clock()
    default = SurveyEngine(database, load_bundled().asking(), engine_config())
    asked: list[str] = []
    citizen = Respondent(default, "1001", clock)
    await citizen.begin(COUNTER)
    while (item := citizen.current_item) is not None:
        asked.append(item)
        await (citizen.skip() if item == "y_kien_khac" else citizen.press(_first(citizen)))
    assert "dan_toc" not in asked and "gioi_tinh" in asked

    switched_on = SurveyEngine(database, load_bundled().asking(["dan_toc"]), engine_config())
    notice, _consent = await Respondent(switched_on, "2002", clock).start(COUNTER)
    assert "Câu về dân tộc là dữ liệu nhạy cảm" in notice.text
    assert phone_lines(notice.text) <= PHONE_LINES
    assert "dân tộc (dữ liệu cá nhân nhạy cảm)" in switched_on.notice.full("vi")


def _first(citizen: Respondent) -> str:
    """The first answer offered: 1 on a scale, 'yes' at a gate (so every block is asked)."""
    return citizen.question.choices()[0].data


def test_the_command_prints_the_notice_under_the_version_responses_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIPAS_DATA_CONTROLLER_PROVINCE", "thành phố Hà Nội")
    settings = load_settings()
    expected = survey_notice(engine_config_of(settings), load_bundled().asking())

    full = CliRunner().invoke(cli, ["privacy", "notice"])
    short = CliRunner().invoke(cli, ["privacy", "notice", "--short", "--language", "en"])

    assert full.exit_code == 0, full.output
    assert full.output == f"version {expected.version}\n\n{expected.full('vi')}\n"
    assert short.output == f"version {expected.version}\n\n{expected.short('en')}\n"
