"""The web form channel: the engine's replies as a page, a posted form as an event."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from channels.web_form import (
    MAX_TYPED_LENGTH,
    WEB,
    BadForm,
    Line,
    Notice,
    inbound_of,
    new_event_id,
    page_of,
    start_of,
)
from handlers.events import Button, InboundKind, Reply

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
EVENT = "kD0b0ZlLq9Wc3l2aC3dNQA"
SCALE = (
    (Button("Rất không hài lòng", "a:15:1", "1"),),
    (Button("Rất hài lòng", "a:15:5", "5"),),
    (Button("« Quay lại", "b:15", "<"), Button("Không trả lời", "s:15", "0")),
)


def test_a_question_page_has_its_lead_text_answers_and_controls_apart() -> None:
    question = Reply("Câu 2/38 · Tiếp cận\n\nXin Ông/Bà cho biết.\nCâu hỏi?", SCALE, question=True)
    page = page_of([Reply("Đã chuyển sang tiếng Việt."), question])
    assert page.notices == (Notice(((Line("Đã chuyển sang tiếng Việt."),),)),)
    assert page.lead == "Câu 2/38 · Tiếp cận"
    assert page.text == ((Line("Xin Ông/Bà cho biết."), Line("Câu hỏi?")),)
    assert [button.data for button in page.options] == ["a:15:1", "a:15:5"]
    assert (page.back, page.skip) == SCALE[2]
    assert not page.typed and not page.finished


def test_a_consent_page_keeps_the_notices_button_its_bullets_and_drops_the_language_one() -> None:
    consent = Reply(
        "Mời Ông/Bà.\n• Thu thập gì: câu trả lời.\n• Quyền: tự nguyện.\nCăn cứ: Luật 91.",
        (
            (Button("Tôi đồng ý", "consent:yes", "1"),),
            (Button("Tôi không đồng ý", "consent:no", "2"),),
            (Button("English", "lang:en", "3"),),
        ),
        question=True,
        notice="Câu hỏi đó đã qua.",
    )
    short_notice = Reply(
        "THÔNG BÁO\n• Không hỏi họ tên.",
        ((Button("Xem toàn văn thông báo", "privacy:full", "/privacy"),),),
    )
    page = page_of([short_notice, consent])
    assert page.notices == (
        Notice(((Line("Câu hỏi đó đã qua."),),)),
        Notice(
            ((Line("THÔNG BÁO"), Line("Không hỏi họ tên.", bullet=True)),),
            (Button("Xem toàn văn thông báo", "privacy:full", "/privacy"),),
        ),
    )
    assert page.lead is None
    assert page.text == (
        (
            Line("Mời Ông/Bà."),
            Line("Thu thập gì: câu trả lời.", bullet=True),
            Line("Quyền: tự nguyện.", bullet=True),
            Line("Căn cứ: Luật 91."),
        ),
    )
    # The header of every page has the language switch: the engine's is not repeated.
    assert [button.label for button in page.options] == ["Tôi đồng ý", "Tôi không đồng ý"]


def test_a_step_with_only_back_and_skip_waits_for_typed_text_and_one_without_buttons_ends() -> None:
    comment = Reply(
        "Câu 24/24\n\nÝ kiến khác",
        ((Button("« Quay lại", "b:y", "<"), Button("Không trả lời", "s:y", "0")),),
        question=True,
    )
    assert page_of([comment]).typed
    thanks = page_of([Reply("Cảm ơn Ông/Bà!\nCâu trả lời được lưu.", question=True)])
    assert thanks.finished and thanks.lead is None
    assert thanks.text == ((Line("Cảm ơn Ông/Bà!"), Line("Câu trả lời được lưu.")),)
    with pytest.raises(ValueError, match="at least one reply"):
        page_of([])


def test_a_posted_form_is_a_choice_a_command_or_typed_text_with_the_forms_event_id() -> None:
    def posted(**fields: str) -> tuple[InboundKind, str, str]:
        inbound = inbound_of(
            WEB, "cookie", {"event": EVENT, **fields}, locale="vi", received_at=NOW
        )
        assert (inbound.channel, inbound.chat, inbound.received_at) == (WEB, "cookie", NOW)
        return inbound.kind, inbound.payload, inbound.event_id

    assert posted(choice="a:15:5", text="ignored") == (InboundKind.CHOICE, "a:15:5", EVENT)
    assert posted(command="delete") == (InboundKind.COMMAND, "delete", EVENT)
    assert posted(text="Nhanh gọn") == (InboundKind.TEXT, "Nhanh gọn", EVENT)
    start = start_of(WEB, "cookie", "c_X_sig", {"event": EVENT}, locale="en", received_at=NOW)
    assert (start.kind, start.payload, start.locale) == (InboundKind.START, "c_X_sig", "en")


@pytest.mark.parametrize(
    "fields",
    [
        {"choice": "a:15:5"},  # no event id
        {"event": "short", "choice": "a:15:5"},
        {"event": EVENT},  # nothing done
        {"event": EVENT, "choice": ""},
        {"event": EVENT, "choice": "a:" + "x" * 70},
        {"event": EVENT, "choice": "a:15:năm"},
        {"event": EVENT, "command": "drop_tables"},
        {"event": EVENT, "text": "x" * (MAX_TYPED_LENGTH + 1)},
    ],
)
def test_a_form_no_page_sends_is_refused(fields: dict[str, str]) -> None:
    with pytest.raises(BadForm):
        inbound_of(WEB, "cookie", fields, locale=None, received_at=NOW)


def test_event_ids_are_random_and_fit_the_pattern_forms_are_checked_against() -> None:
    ids = {new_event_id() for _ in range(100)}
    assert len(ids) == 100
    for event_id in ids:
        inbound_of(WEB, "c", {"event": event_id, "text": "x"}, locale=None, received_at=NOW)
