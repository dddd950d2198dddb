"""What each step shows, and how it speaks of the channel it is shown on: buttons where there are
buttons, numbers where they are typed, commands in a chat and the page's own controls on the web."""

from __future__ import annotations

import pytest

from handlers.events import TEXT_CHAT, Command, InboundKind, Surface
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.db import Database
from storage.invitations import counter_payload
from tests.conftest import TEST_SECRET
from tests.survey_driver import POINT, Clock, Respondent, add_counters, engine_config

COUNTER = counter_payload(TEST_SECRET, POINT)
ZALO_OA = Surface(buttons=True, numbers=True)
WEB = Surface(buttons=True, numbers=False, commands=False)
KIOSK = Surface(buttons=True, numbers=False, commands=False, withdraw=False)
COMMANDS = ("/delete", "/xoa", "/cancel", "/dung", "/privacy", "/help")


@pytest.fixture
async def engine(database: Database) -> SurveyEngine:
    await add_counters(database)
    return SurveyEngine(database, load_bundled().asking(), engine_config())


def person(engine: SurveyEngine, **kwargs: object) -> Respondent:
    return Respondent(engine, "1001", Clock(), **kwargs)  # type: ignore[arg-type]


def rows_of(citizen: Respondent) -> list[list[str]]:
    return [[button.label for button in row] for row in citizen.question.buttons]


async def test_every_scale_screen_asks_its_question_above_the_answers(
    engine: SurveyEngine,
) -> None:
    citizen = person(engine)
    await citizen.begin(COUNTER)
    await citizen.answer("citizen")
    for _ in range(13):  # items 15–27, the first with its block's intro, the others without
        lines = citizen.question.text.splitlines()
        assert lines[-1] == "Mức độ hài lòng của Ông/Bà:"
        await citizen.answer("4")
    assert citizen.current_item == "ket_qua_nhan"
    assert "Mức độ hài lòng" not in citizen.question.text


QUESTION_10_STEM = (
    "Xin Ông/Bà cho biết mức độ Ông/Bà mong muốn cơ quan nhà nước tập trung ưu tiên nguồn lực"
)


async def test_question_10_asks_the_forms_stem_once_above_its_first_priority(
    engine: SurveyEngine,
) -> None:
    citizen = person(engine)
    await citizen.begin(COUNTER)
    await citizen.answer("citizen")
    while citizen.current_item != "uu_tien":
        item = citizen.current_item
        await citizen.answer("4" if item and item.isdigit() else "no")
    await citizen.answer("yes")
    screens = []
    while (citizen.current_item or "").startswith("10."):
        screens.append(citizen.question.text)
        await citizen.answer("nhieu")
    assert len(screens) == 8
    assert [QUESTION_10_STEM in text for text in screens] == [True] + [False] * 7
    assert all(text.splitlines()[-1] == "Mức độ Ông/Bà mong muốn ưu tiên:" for text in screens)


async def test_the_points_of_a_scale_stay_one_a_row_and_short_choices_go_two_a_row(
    engine: SurveyEngine,
) -> None:
    citizen = person(engine)
    await citizen.begin(COUNTER)
    assert rows_of(citizen) == [["Người dân"], ["Đại diện tổ chức, doanh nghiệp"]]
    await citizen.answer("citizen")
    assert rows_of(citizen) == [
        ["Rất không hài lòng"],
        ["Không hài lòng"],
        ["Bình thường"],
        ["Hài lòng"],
        ["Rất hài lòng"],
        ["« Quay lại", "Không trả lời"],
    ]
    for _ in range(13):
        await citizen.answer("4")
    assert rows_of(citizen) == [["Đã nhận", "Chưa nhận"], ["« Quay lại"]]
    for answer in ("no", "no", "no", "yes"):  # result, complaints, priorities, profile gate
        await citizen.answer(answer)
    assert rows_of(citizen) == [["Nam", "Nữ"], ["Không muốn trả lời"], ["« Quay lại"]]


async def test_the_profile_is_declined_in_one_tap_like_the_priorities(
    engine: SurveyEngine,
) -> None:
    citizen = person(engine)
    await citizen.begin(COUNTER)
    await citizen.answer("citizen")
    for _ in range(13):
        await citizen.answer("4")
    for answer in ("no", "no", "no"):
        await citizen.answer(answer)
    assert citizen.current_item == "thong_tin"
    assert citizen.question.text.startswith("Phần 7/8 · Thông tin thống kê · Câu 1/6")
    await citizen.answer("no")
    assert citizen.current_item == "y_kien_khac"
    assert citizen.question.text.startswith("Phần 8/8 · Ý kiến khác\n")


@pytest.mark.parametrize(
    ("surface", "said", "unsaid"),
    [
        (Surface(buttons=True, numbers=False), "bấm một nút bên dưới", "gõ số"),
        (ZALO_OA, "bấm một nút bên dưới, hoặc gõ số", None),
        (TEXT_CHAT, "gõ số của phương án", "bấm"),
    ],
)
async def test_the_hint_speaks_of_what_the_channel_shows(
    engine: SurveyEngine, surface: Surface, said: str, unsaid: str | None
) -> None:
    citizen = person(engine, surface=surface)
    await citizen.begin(COUNTER)
    hint, question = await citizen.type("được")
    assert said in hint.text
    assert unsaid is None or unsaid not in hint.text
    assert question.question and citizen.current_item == "respondent_type"
    (help_text, _) = await citizen.command(Command.HELP)
    assert "/huongdan" in help_text.text and "/xoa" in help_text.text
    assert unsaid is None or unsaid not in help_text.text


async def test_a_sticker_gets_a_reply_in_vietnamese_and_the_question_again(
    engine: SurveyEngine,
) -> None:
    citizen = person(engine)
    await citizen.begin(COUNTER)
    sorry, question = await citizen.send(citizen.inbound(InboundKind.UNSUPPORTED))
    assert sorry.text.startswith("Xin lỗi, khảo sát không đọc được nhãn dán")
    assert question.question and citizen.current_item == "respondent_type"


@pytest.mark.parametrize(
    ("surface", "withdrawal"),
    [
        (Surface(buttons=True, numbers=False), "Nếu muốn xoá câu trả lời, Ông/Bà gửi lệnh /xoa."),
        (WEB, "Nếu muốn xoá câu trả lời, Ông/Bà bấm «Xoá câu trả lời của tôi» bên dưới."),
        (KIOSK, None),
    ],
)
async def test_the_thanks_says_how_to_withdraw_where_the_survey_was_taken(
    engine: SurveyEngine, surface: Surface, withdrawal: str | None
) -> None:
    (thanks,) = await person(engine, surface=surface).complete(COUNTER)
    assert thanks.text.startswith("Cảm ơn Ông/Bà")
    if withdrawal is None:
        assert "xoá" not in thanks.text
    else:
        assert thanks.text.endswith(withdrawal)
    if not surface.commands:
        assert not any(command in thanks.text for command in COMMANDS)


@pytest.mark.parametrize("surface", [WEB, KIOSK])
async def test_no_command_is_spoken_of_on_a_page(engine: SurveyEngine, surface: Surface) -> None:
    citizen = person(engine, surface=surface)
    shown = [reply.text for reply in await citizen.start(COUNTER)]
    shown += [reply.text for reply in await citizen.press("privacy:full")]
    shown += [reply.text for reply in await citizen.press("lang:en")]
    shown += [reply.text for reply in await citizen.complete(COUNTER)]
    shown += [reply.text for reply in await citizen.command(Command.DELETE)]
    for text in shown:
        assert not any(command in text for command in COMMANDS), text
    assert not any("XOA" in text or "KHONG" in text for text in shown)


async def test_the_delete_confirmation_shows_its_typed_code_only_where_there_are_no_buttons(
    engine: SurveyEngine,
) -> None:
    (with_buttons,) = await person(engine).command(Command.DELETE)
    assert [b.data for b in with_buttons.choices()] == ["del:yes", "del:no"]
    assert "XOA" not in with_buttons.text and "KHONG" not in with_buttons.text

    (typed,) = await Respondent(engine, "1002", Clock(), surface=TEXT_CHAT).command(Command.DELETE)
    code = typed.choices()[0].key
    assert code.startswith("XOA") and f"Gõ {code} để xác nhận, hoặc KHONG để thôi." in typed.text
