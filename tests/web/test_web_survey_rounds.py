"""A survey round's invitation on the web: its landing page names the round and the group, and
the form is answered in the browser, the rated-unit block once per unit."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import SurveySession
from tests.handlers.test_survey_rounds import mint, store_round
from tests.web.test_web_survey import Service, finish, service

__all__ = ["service"]  # the citizens' pages over the engine, as the web survey tests use them


async def test_a_round_invitation_is_answered_in_the_browser(service: Service) -> None:
    await store_round(service.database)
    (invitation,) = await mint(service.database, "XA")
    phone = service.phone()
    landing = await phone.open(f"/s/{invitation.payload}")
    assert landing.status == 200
    assert "Đợt thử" in landing.text and "Lãnh đạo xã" in landing.text
    assert invitation.short_code in landing.text
    await phone.tap("Trả lời ngay trên trình duyệt")
    screener = await phone.tap("Tôi đồng ý tham gia")
    assert "Ông/Bà hiện là Lãnh đạo xã?" in screener.text
    first = await phone.tap("Có")
    assert "Sở A" in first.text
    thanks = await finish(phone)
    assert "Cảm ơn Ông/Bà đã hoàn thành phiếu đánh giá!" in thanks.text
    async with service.database.reading() as tx:
        survey = (await tx.scalars(select(SurveySession))).one()
    assert (survey.channel, survey.status, survey.round_code) == ("web", "completed", "r-test")
    again = await service.phone().open(f"/s/{invitation.payload}")
    assert again.status == 410
