"""The citizens' pages over HTTP: a QR code's landing page, the web survey on the chats' engine,
and the counter kiosk, with the dashboard's CSP and CSRF, and no identifier stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.db import Database
from storage.invitations import counter_payload, counter_short_code, issue_invitation
from storage.kiosks import issue_kiosk, revoke_kiosk
from storage.models import Agency, Answer, Invitation, Response, ServicePoint, SurveySession
from tests.anonymity import database_text
from tests.conftest import TEST_SECRET
from tests.survey_driver import OTHER_POINT, POINT, Clock, add_counters, engine_config
from tests.web.citizen import Citizen, Page
from web.app import create_app
from web.survey.kiosk import KIOSK_IDLE_SECONDS, KIOSK_THANKS_SECONDS
from web.survey.routes import survey_router

OA_ID = "579745863508352884"
BOT = "sipas_hanoi_bot"
CONTROLLER = "Sở Nội vụ thành phố Hà Nội"
PHONE_ADDRESS = ("203.0.113.77", 50123)
PHONE_AGENT = "Mozilla/5.0 (Linux; Android 14; SM-A146P) FingerprintProbe/7.7"


@dataclass
class Service:
    database: Database
    engine: SurveyEngine
    clock: Clock
    monotonic: list[float]

    def app(self, **options: object) -> FastAPI:
        values: dict[str, object] = {
            "secret": TEST_SECRET,
            "data_controller": CONTROLLER,
            "bot_username": BOT,
            "zalo_oa_id": OA_ID,
            "resume_window": timedelta(hours=48),
            "cookie_secure": False,
            "clock": lambda: self.clock.now,
            "monotonic": lambda: self.monotonic[0],
        }
        values.update(options)
        return create_app([survey_router(self.engine.handle, self.database, **values)])  # type: ignore[arg-type]

    def phone(
        self, app: FastAPI | None = None, address: tuple[str, int] = PHONE_ADDRESS
    ) -> Citizen:
        transport = httpx.ASGITransport(app=app or self.app(), client=address)
        return Citizen(
            httpx.AsyncClient(
                transport=transport,
                base_url="http://testserver",
                headers={"User-Agent": PHONE_AGENT},
            )
        )


@pytest.fixture
async def service(database: Database) -> AsyncIterator[Service]:
    await add_counters(database)
    async with database.transaction() as tx:
        tx.add(Agency(code="HN-STP", name="Sở Tư pháp", kind="department", unit_code="01"))
        await tx.flush()
        await tx.execute(
            update(ServicePoint).where(ServicePoint.code == POINT).values(agency_code="HN-STP")
        )
    clock = Clock()
    engine = SurveyEngine(database, load_bundled(), engine_config(data_controller=CONTROLLER))
    yield Service(database, engine, clock, [1000.0])


COUNTER = counter_payload(TEST_SECRET, POINT)


async def finish(citizen: Citizen, *, until: str | None = None) -> Page:
    """Tap every question's last answer (skip where there is none) until the thanks, or until
    a page shows `until`."""
    page = citizen.page
    assert page is not None
    for _ in range(60):
        if until is not None and until in page.text:
            return page
        answers = [
            label
            for form in page.forms
            for label, name, value in form.buttons
            if name == "choice" and value and value.startswith("a:")
        ]
        if answers:
            page = await citizen.tap(answers[-1])
        elif "Không trả lời" in page.buttons():
            page = await citizen.tap("Không trả lời")
        else:
            assert until is None, f"the survey ended before {until!r}"
            return page
    raise AssertionError("the survey did not end")


# --- the landing page ---------------------------------------------------------------------------


async def test_a_counters_landing_page_names_who_asks_and_offers_browser_zalo_and_telegram(
    service: Service,
) -> None:
    phone = service.phone()
    page = await phone.open(f"/s/{COUNTER}")
    assert page.status == 200
    assert page.response.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.response.headers["x-frame-options"] == "DENY"
    assert '<html lang="vi">' in page.response.text
    assert (
        "Quầy HN-00004-01" in page.text
        and "Sở Tư pháp" in page.text
        and "Phường Ba Đình" in page.text
    )
    assert CONTROLLER in page.text
    assert page.buttons() == ["Trả lời ngay trên trình duyệt"]
    assert page.links["Mở Zalo"] == f"https://zalo.me/{OA_ID}"
    assert counter_short_code(TEST_SECRET, POINT) in page.text
    assert page.links["Mở Telegram"] == f"https://t.me/{BOT}?start={COUNTER}"

    english = await phone.open(page.links["English"])
    assert '<html lang="en">' in english.response.text
    assert english.buttons() == ["Answer here in the browser"]
    assert "Open Zalo" in english.links and "Tiếng Việt" in english.links


async def test_without_zalo_or_telegram_only_the_browser_is_offered(service: Service) -> None:
    phone = service.phone(service.app(zalo_oa_id=None, bot_username=None))
    page = await phone.open(f"/s/{COUNTER}")
    assert page.buttons() == ["Trả lời ngay trên trình duyệt"]
    assert not any("zalo" in href or "t.me" in href for href in page.links.values())


async def test_an_invitations_landing_page_shows_its_own_short_code_and_claims_nothing(
    service: Service,
) -> None:
    async with service.database.transaction() as tx:
        issued = await issue_invitation(
            tx, TEST_SECRET, service_point_code=POINT, now=service.clock.now, ttl=timedelta(days=3)
        )
    page = await service.phone().open(f"/s/{issued.payload}")
    assert page.status == 200
    assert issued.short_code in page.text
    assert page.links["Mở Telegram"] == f"https://t.me/{BOT}?start={issued.payload}"
    async with service.database.reading() as tx:
        invitation = await tx.get(Invitation, issued.invitation.id)
    assert invitation is not None and invitation.claimed_by is None


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_forged_unknown_expired_used_or_closed_payload_gets_a_vietnamese_page(
    service: Service,
) -> None:
    now = service.clock.now
    async with service.database.transaction() as tx:
        expired = await issue_invitation(
            tx,
            TEST_SECRET,
            service_point_code=POINT,
            now=now - timedelta(days=4),
            ttl=timedelta(days=3),
        )
        used = await issue_invitation(
            tx, TEST_SECRET, service_point_code=POINT, now=now, ttl=timedelta(days=3)
        )
        await tx.execute(
            update(Invitation).where(Invitation.id == used.invitation.id).values(completed_at=now)
        )
        await tx.execute(
            update(ServicePoint).where(ServicePoint.code == OTHER_POINT).values(active=False)
        )
    phone = service.phone()
    cases = {
        COUNTER[:-3] + "xyz": (404, "Mã khảo sát không hợp lệ"),
        "i_" + "A" * 22: (404, "Không tìm thấy mã khảo sát này"),
        "hello": (404, "không đúng định dạng"),
        expired.payload: (410, "đã hết hạn"),
        used.payload: (410, "đã được dùng để đánh giá"),
        counter_payload(TEST_SECRET, OTHER_POINT): (410, "không nhận khảo sát"),
    }
    for payload, (status, words) in cases.items():
        page = await phone.open(f"/s/{payload}")
        assert (page.status, page.buttons()) == (status, []), payload
        assert words in page.text, payload
        assert page.response.headers["content-security-policy"].startswith("default-src 'none'")


# --- the web survey -------------------------------------------------------------------------------


async def test_a_web_survey_completes_by_taps_and_is_counted_with_channel_web(
    service: Service,
) -> None:
    phone = service.phone()
    await phone.open(f"/s/{COUNTER}")
    consent = await phone.tap("Trả lời ngay trên trình duyệt")
    assert consent.text.startswith("THÔNG BÁO VỀ DỮ LIỆU CÁ NHÂN")
    assert f"{CONTROLLER} dùng câu trả lời của Ông/Bà chỉ để đánh giá" in consent.text
    assert "như thông báo trên không?" in consent.text
    assert consent.buttons() == [
        "English",
        "Xem toàn văn thông báo",
        "Tôi đồng ý tham gia",
        "Tôi không đồng ý",
        "Thông báo về dữ liệu cá nhân",
        "Xoá câu trả lời của tôi",
    ]
    full = await phone.tap("Xem toàn văn thông báo")
    assert f"1. Bên kiểm soát dữ liệu cá nhân: {CONTROLLER}." in full.text
    assert "Tôi đồng ý tham gia" in full.buttons()
    # Reloaded, the consent page still shows the notice it refers to.
    reloaded = await phone.open("/s/survey")
    assert reloaded.text.startswith("THÔNG BÁO VỀ DỮ LIỆU CÁ NHÂN")
    first = await phone.tap("Tôi đồng ý tham gia")
    # What is rated comes first: the counter, as the first screen after consent names it.
    assert (
        first.text.startswith(f"Quầy: Quầy {POINT} Phần 1/8 · Tiếp cận dịch vụ · Câu 1/5")
        and "Ông/Bà là:" in first.text
    )
    await phone.tap("Người dân")
    thanks = await finish(phone)
    assert "Cảm ơn Ông/Bà đã dành thời gian tham gia khảo sát!" in thanks.text
    assert thanks.buttons() == ["Thông báo về dữ liệu cá nhân", "Xoá câu trả lời của tôi"]
    async with service.database.reading() as tx:
        response = (await tx.scalars(select(Response))).one()
    assert (response.channel, response.service_point_code) == ("web", POINT)


async def test_the_web_pages_speak_of_their_own_buttons_never_of_chat_commands(
    service: Service,
) -> None:
    phone = service.phone()
    await phone.open(f"/s/{COUNTER}")
    shown = [await phone.tap("Trả lời ngay trên trình duyệt")]
    shown.append(await phone.tap("Xem toàn văn thông báo"))
    await phone.tap("Tôi đồng ý tham gia")
    shown.append(await finish(phone))
    assert shown[-1].text.endswith(
        "Nếu muốn xoá câu trả lời, Ông/Bà bấm «Xoá câu trả lời của tôi» bên dưới."
    )
    ask = await phone.tap("Xoá câu trả lời của tôi")
    shown.append(ask)
    assert "Xoá câu trả lời" in ask.buttons() and "Không xoá" in ask.buttons()
    shown.append(await phone.tap("Xoá câu trả lời"))
    assert "Đã xoá 1 khảo sát" in shown[-1].text
    for page in shown:
        for chat_word in ("/delete", "/xoa", "/cancel", "/dung", "/privacy", "XOA", "KHONG"):
            assert chat_word not in page.text, (chat_word, page.text[:80])
    assert "nút «Xoá câu trả lời của tôi»" in shown[1].text  # the full notice, for a browser


async def test_back_skip_a_reload_and_a_form_posted_twice(service: Service) -> None:
    phone = service.phone()
    await phone.open(f"/s/{COUNTER}")
    await phone.tap("Trả lời ngay trên trình duyệt")
    await phone.tap("Tôi đồng ý tham gia")
    await phone.tap("Người dân")
    second = phone.page
    assert second is not None and second.text.startswith("Phần 1/8 · Tiếp cận dịch vụ · Câu 2/5")
    resent = phone.form_fields("Hài lòng")
    await phone.tap("Hài lòng")
    # The same form again (a reload that re-posts, a double tap): one answer, this page.
    again = await phone.post("/s/survey", resent)
    assert again.text.startswith("Phần 1/8 · Tiếp cận dịch vụ · Câu 3/5")
    back = await phone.tap("« Quay lại")
    assert (
        back.text.startswith("Phần 1/8 · Tiếp cận dịch vụ · Câu 2/5")
        and "Câu trả lời hiện tại: Hài lòng" in back.text
    )
    await phone.tap("Rất hài lòng")
    skipped = await phone.tap("Không trả lời")
    assert skipped.text.startswith("Phần 1/8 · Tiếp cận dịch vụ · Câu 4/5")
    reloaded = await phone.open("/s/survey")
    assert reloaded.text == skipped.text
    async with service.database.reading() as tx:
        answers = dict((await tx.execute(select(Answer.item_code, Answer.value))).tuples().all())
    assert answers == {"respondent_type": "citizen", "15": "5", "16": None}


async def test_closing_the_tab_and_coming_back_resumes_where_the_respondent_was(
    service: Service,
) -> None:
    app = service.app()
    phone = service.phone(app)
    await phone.open(f"/s/{COUNTER}")
    await phone.tap("Trả lời ngay trên trình duyệt")
    await phone.tap("Tôi đồng ý tham gia")
    await phone.tap("Người dân")
    cookies = phone.http.cookies
    # A new tab of the same browser: the cookie is all it has.
    later = service.phone(app)
    later.http.cookies = cookies
    page = await later.open("/s/survey")
    assert page.text.startswith("Phần 1/8 · Tiếp cận dịch vụ · Câu 2/5")
    # Scanning the counter's code again offers to continue.
    await later.open(f"/s/{COUNTER}")
    resumed = await later.tap("Trả lời ngay trên trình duyệt")
    assert "đã trả lời 1 câu" in resumed.text
    assert "Phần 1/8 · Tiếp cận dịch vụ · Câu 2/5" in resumed.text
    assert resumed.buttons()[-3:] == [
        "Làm lại từ đầu",  # beside back and skip, apart from the answers
        "Thông báo về dữ liệu cá nhân",
        "Xoá câu trả lời của tôi",
    ]
    # Another browser is another respondent.
    stranger = await service.phone(app).open("/s/survey")
    assert "chưa có khảo sát nào đang mở" in stranger.text and stranger.buttons() == []


async def test_a_comment_is_typed_in_a_labelled_box_and_scrubbed(service: Service) -> None:
    phone = service.phone()
    await phone.open(f"/s/{COUNTER}")
    await phone.tap("Trả lời ngay trên trình duyệt")
    await phone.tap("Tôi đồng ý tham gia")
    await phone.tap("Người dân")
    page = await finish(phone, until="Ý kiến khác")
    assert '<label for="answer">Ý kiến của Ông/Bà</label>' in page.response.text
    thanks = await phone.tap("Gửi ý kiến", typed="Nhanh, gọi tôi 0912 345 678")
    assert "Cảm ơn" in thanks.text
    stored = await database_text(service.database)
    assert "Nhanh, gọi tôi [số điện thoại]" in stored and "0912" not in stored


async def test_in_english_then_withdrawn_after_the_thanks(service: Service) -> None:
    phone = service.phone()
    await phone.open(f"/s/{COUNTER}")
    await phone.tap("Trả lời ngay trên trình duyệt")
    english = await phone.tap("English")
    assert '<html lang="en">' in english.response.text
    assert english.buttons()[:4] == [
        "Tiếng Việt",
        "Read the full notice",
        "I agree to take part",
        "I do not agree",
    ]
    await phone.tap("I agree to take part")
    await phone.tap("A citizen")
    await finish(phone)
    confirm = await phone.tap("Delete my answers")
    assert "This cannot be undone" in confirm.text
    assert confirm.buttons()[1:3] == ["Delete my answers", "Keep them"]
    done = await phone.tap("Delete my answers")
    assert "Deleted 1 of your surveys with all their answers" in done.text
    async with service.database.reading() as tx:
        assert (await tx.scalars(select(Response))).all() == []


async def test_declining_the_notice_stores_nothing(service: Service) -> None:
    phone = service.phone()
    await phone.open(f"/s/{COUNTER}")
    await phone.tap("Trả lời ngay trên trình duyệt")
    declined = await phone.tap("Tôi không đồng ý")
    assert "Chúng tôi không lưu bất kỳ câu trả lời nào" in declined.text
    async with service.database.reading() as tx:
        assert (await tx.scalars(select(Answer))).all() == []


async def test_one_survey_per_counter_per_device_and_day(service: Service) -> None:
    phone = service.phone()
    await phone.open(f"/s/{COUNTER}")
    await phone.tap("Trả lời ngay trên trình duyệt")
    await phone.tap("Tôi đồng ý tham gia")
    await phone.tap("Người dân")
    await finish(phone)
    await phone.open(f"/s/{COUNTER}")
    again = await phone.tap("Trả lời ngay trên trình duyệt")
    assert "Ông/Bà đã đánh giá quầy này hôm nay" in again.text
    assert again.buttons() == ["Thông báo về dữ liệu cá nhân", "Xoá câu trả lời của tôi"]


async def test_a_form_without_its_csrf_token_from_another_site_or_garbled_changes_nothing(
    service: Service,
) -> None:
    phone = service.phone()
    await phone.open(f"/s/{COUNTER}")
    start = phone.form_fields("Trả lời ngay trên trình duyệt")
    forged = await phone.post(f"/s/{COUNTER}", {**start, "csrf": "0" * 40})
    assert forged.status == 400 and "Trang này đã cũ" in forged.text
    cross = await phone.http.post(
        f"/s/{COUNTER}", data=start, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 400
    async with service.database.reading() as tx:
        assert (await tx.scalars(select(SurveySession))).all() == []

    await phone.open(f"/s/{COUNTER}")
    await phone.tap("Trả lời ngay trên trình duyệt")
    agree = phone.form_fields("Tôi đồng ý tham gia")
    for garbled in (
        {**agree, "event": "x"},
        {**agree, "choice": "a:15:" + "9" * 80},
        {"csrf": agree["csrf"], "event": agree["event"], "command": "drop"},
        {"csrf": agree["csrf"], "event": agree["event"]},
        {"csrf": agree["csrf"], "event": agree["event"], "text": "x" * 9000},
    ):
        page = await phone.post("/s/survey", garbled)
        assert page.status == 400, garbled
    async with service.database.reading() as tx:
        session = (await tx.scalars(select(SurveySession))).one()
    assert session.status == "consent"


async def test_starts_are_limited_per_client_address(service: Service) -> None:
    app = service.app(starts_per_hour=3)
    for number in range(3):
        phone = service.phone(app)  # a new browser each time: cookies cleared
        await phone.open(f"/s/{COUNTER}")
        page = await phone.tap("Trả lời ngay trên trình duyệt")
        assert page.status == 200, number
    phone = service.phone(app)
    await phone.open(f"/s/{COUNTER}")
    refused = await phone.tap("Trả lời ngay trên trình duyệt")
    assert refused.status == 429 and refused.response.headers["retry-after"] == "1200"
    assert "thử lại sau 20 phút" in refused.text
    elsewhere = service.phone(app, address=("198.51.100.9", 4000))
    await elsewhere.open(f"/s/{COUNTER}")
    assert (await elsewhere.tap("Trả lời ngay trên trình duyệt")).status == 200
    service.monotonic[0] += 1200
    await phone.open(f"/s/{COUNTER}")
    assert (await phone.tap("Trả lời ngay trên trình duyệt")).status == 200


async def test_no_address_user_agent_or_cookie_is_stored(service: Service) -> None:
    phone = service.phone()
    await phone.open(f"/s/{COUNTER}")
    await phone.tap("Trả lời ngay trên trình duyệt")
    await phone.tap("Tôi đồng ý tham gia")
    await phone.tap("Người dân")
    await finish(phone)
    unfinished = service.phone(address=("198.51.100.23", 4100))
    await unfinished.open(f"/s/{COUNTER}")
    await unfinished.tap("Trả lời ngay trên trình duyệt")
    await unfinished.tap("Tôi đồng ý tham gia")
    cookies = [
        value
        for citizen in (phone, unfinished)
        for name, value in citizen.http.cookies.items()
        if name == "sipas_respondent"
    ]
    assert len(cookies) == 2
    stored = await database_text(service.database)
    assert "completed" in stored and POINT in stored  # the search does see the survey data
    for identifier in (*cookies, PHONE_ADDRESS[0], "198.51.100.23", "FingerprintProbe", "SM-A146P"):
        assert identifier not in stored


# --- the kiosk ---------------------------------------------------------------------------------


async def test_a_kiosk_runs_one_respondent_after_another_and_keeps_nothing_between_them(
    service: Service,
) -> None:
    async with service.database.transaction() as tx:
        kiosk = await issue_kiosk(tx, TEST_SECRET, service_point_code=POINT, now=service.clock.now)
    home = f"/s/kiosk/{kiosk.token}"
    tablet = service.phone()
    start = await tablet.open(home)
    assert start.status == 200 and "Quầy HN-00004-01" in start.text
    assert start.buttons() == ["Bắt đầu khảo sát"]

    # The first respondent finishes: the thanks goes back to the start by itself.
    await tablet.tap("Bắt đầu khảo sát")
    first = await tablet.tap("Tôi đồng ý tham gia")
    assert first.refresh == f"{KIOSK_IDLE_SECONDS};url={home}"
    assert "Xoá câu trả lời của tôi" not in first.buttons()
    await tablet.tap("Người dân")
    thanks = await finish(tablet)
    assert "Cảm ơn" in thanks.text and thanks.refresh == f"{KIOSK_THANKS_SECONDS};url={home}"
    await tablet.open(home)

    # The second walks away mid-way: the idle reset discards the unfinished answers.
    await tablet.tap("Bắt đầu khảo sát")
    await tablet.tap("Tôi đồng ý tham gia")
    await tablet.tap("Người dân")
    await tablet.open(home)
    # The third starts afresh, not where the second stopped.
    await tablet.tap("Bắt đầu khảo sát")
    third = await tablet.tap("Tôi đồng ý tham gia")
    assert third.text.startswith(f"Quầy: Quầy {POINT} Phần 1/8 · Tiếp cận dịch vụ · Câu 1/5")

    async with service.database.reading() as tx:
        sessions = (await tx.scalars(select(SurveySession).order_by(SurveySession.id))).all()
        responses = (await tx.scalars(select(Response))).all()
    assert [(s.channel, s.status) for s in sessions] == [
        ("kiosk", "completed"),
        ("kiosk", "cancelled"),
        ("kiosk", "active"),
    ]
    assert len({s.respondent_key for s in sessions if s.respondent_key}) == 2
    assert [(r.channel, r.service_point_code) for r in responses] == [("kiosk", POINT)]
    async with service.database.reading() as tx:
        kept = (await tx.scalars(select(Answer.session_id).distinct())).all()
    assert kept == [sessions[0].id, sessions[2].id] or set(kept) <= {sessions[0].id, sessions[2].id}


async def test_a_revoked_or_unknown_kiosk_url_says_so_and_a_forgotten_respondent_starts_over(
    service: Service,
) -> None:
    async with service.database.transaction() as tx:
        kiosk = await issue_kiosk(tx, TEST_SECRET, service_point_code=POINT, now=service.clock.now)
    tablet = service.phone()
    await tablet.open(f"/s/kiosk/{kiosk.token}")
    async with service.database.transaction() as tx:
        await revoke_kiosk(tx, kiosk.kiosk.id, datetime.now(UTC))
    refused = await tablet.tap("Bắt đầu khảo sát")
    assert refused.status == 404 and "không còn hoạt động" in refused.text
    async with service.database.transaction() as tx:
        live = await issue_kiosk(tx, TEST_SECRET, service_point_code=POINT, now=service.clock.now)
    await tablet.open(f"/s/kiosk/{live.token}")
    await tablet.tap("Bắt đầu khảo sát")
    agree = tablet.form_fields("Tôi đồng ý tham gia")
    tablet.http.cookies.delete("sipas_kiosk")  # the tablet's browser forgot its respondent
    forgotten = await tablet.http.post(f"/s/kiosk/{live.token}", data=agree)
    assert forgotten.status_code == 303
    assert forgotten.headers["location"] == f"/s/kiosk/{live.token}"
    unknown = await tablet.open("/s/kiosk/" + "A" * 43)
    assert unknown.status == 404 and unknown.buttons() == []
    async with service.database.reading() as tx:
        statuses = (await tx.scalars(select(SurveySession.status))).all()
    assert statuses == ["consent"]  # the live kiosk's respondent only: the revoked one began none
