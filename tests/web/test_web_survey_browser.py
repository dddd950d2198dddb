"""The citizens' pages in a real headless browser (Playwright driving Debian's Chromium) on a phone.

A citizen scans a poster's QR code, lands on the counter's page, answers in the browser
with JavaScript switched off, by taps alone: back, skip, the tab closed and opened again,
a comment typed; the response counts with channel `web` and the database holds neither
the cookie nor the address nor the browser's name. A counter's tablet goes back to its
start by itself after the thanks and when left idle, and keeps nothing. axe-core finds no
serious or critical accessibility violation on any of these pages.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select, update

from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.db import Database
from storage.invitations import counter_payload, counter_short_code
from storage.kiosks import issue_kiosk
from storage.migrate import upgrade
from storage.models import Agency, Response, ServicePoint, SurveySession
from tests.anonymity import database_text
from tests.conftest import TEST_SECRET
from tests.fakes.served import ServedApp
from tests.survey_driver import POINT, add_counters, engine_config
from tests.web.test_dashboard_browser import CHROMIUM_ARGS, PHONE, _chromium
from web.app import create_app
from web.posters import Paper, PosterContent, PosterFormat, render_poster
from web.survey.paths import landing_link
from web.survey.routes import survey_router

OA_ID = "579745863508352884"
BOT = "sipas_hanoi_bot"
CONTROLLER = "Sở Nội vụ thành phố Hà Nội"
SERIOUS = ("serious", "critical")


@dataclass
class Served:
    """The citizens' pages served by uvicorn; kiosk URLs of a busy and of an idle counter."""

    url: str
    database_url: str
    kiosk: str
    idle_kiosk: str


def _app(database_url: str, **timings: int) -> Any:
    # Its own Database and engine: the server's event loop is not the test's.
    database = Database(database_url)
    engine = SurveyEngine(database, load_bundled(), engine_config(data_controller=CONTROLLER))
    router = survey_router(
        engine.handle,
        database,
        secret=TEST_SECRET,
        data_controller=CONTROLLER,
        bot_username=BOT,
        zalo_oa_id=OA_ID,
        resume_window=timedelta(hours=48),
        cookie_secure=False,
        **timings,  # type: ignore[arg-type]
    )
    return create_app([router])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sipas.db'}"

    async def prepare() -> tuple[str, str]:
        await upgrade(url)
        database = Database(url)
        try:
            await add_counters(database)
            async with database.transaction() as tx:
                tx.add(Agency(code="HN-STP", name="Sở Tư pháp", kind="department", unit_code="01"))
                await tx.flush()
                await tx.execute(
                    update(ServicePoint)
                    .where(ServicePoint.code == POINT)
                    .values(agency_code="HN-STP")
                )
                busy = await issue_kiosk(
                    tx, TEST_SECRET, service_point_code=POINT, now=datetime.now(UTC)
                )
                idle = await issue_kiosk(
                    tx, TEST_SECRET, service_point_code=POINT, now=datetime.now(UTC)
                )
            return busy.token, idle.token
        finally:
            await database.dispose()

    busy, idle = asyncio.run(prepare())
    # The thanks stays a second; on the second server, any page two.
    main = ServedApp(_app(url, kiosk_thanks_seconds=1), name="the citizens' pages").start()
    sleepy = ServedApp(_app(url, kiosk_idle_seconds=2), name="the idle kiosk's pages").start()
    try:
        yield Served(main.url, url, f"{main.url}/s/kiosk/{busy}", f"{sleepy.url}/s/kiosk/{idle}")
    finally:
        sleepy.stop()
        main.stop()


def _database_state(url: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str]:
    """(channel, status) of every session, (channel, counter) of every response, and all text."""

    async def read() -> tuple[list[tuple[str, str]], list[tuple[str, str]], str]:
        database = Database(url)
        try:
            async with database.reading() as tx:
                sessions = await tx.execute(select(SurveySession.channel, SurveySession.status))
                responses = await tx.execute(select(Response.channel, Response.service_point_code))
                found = (list(sessions.tuples()), list(responses.tuples()))
            return (*found, await database_text(database))
        finally:
            await database.dispose()

    return asyncio.run(read())


def _poster_link(base_url: str) -> str:
    """What the counter's poster QR code says, as a phone camera reads it."""
    payload = counter_payload(TEST_SECRET, POINT)
    poster = render_poster(
        PosterContent(
            service_point_code=POINT,
            counter_name="Quầy 01",
            unit_name="Phường Ba Đình",
            link=landing_link(base_url, payload),
            short_code=counter_short_code(TEST_SECRET, POINT),
            zalo_oa_name=CONTROLLER,
            opens_landing_page=True,
        ),
        format=PosterFormat.PNG,
        paper=Paper.A5,
    )
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(poster)))
    assert len(codes) == 1
    return codes[0].text


def test_a_citizen_scans_answers_by_taps_comes_back_and_a_kiosk_resets(
    served: Served,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    payload = counter_payload(TEST_SECRET, POINT)
    link = _poster_link(served.url)
    assert link == f"{served.url}/s/{payload}"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            # No JavaScript at all: every step is a plain form.
            phone = browser.new_context(
                viewport=PHONE, is_mobile=True, has_touch=True, java_script_enabled=False
            )
            page = phone.new_page()
            user_agent = page.evaluate("navigator.userAgent")

            # The landing page: who asks, where, and the three ways to answer.
            page.goto(link)
            expect(page.locator("h1")).to_have_text("Đánh giá sự hài lòng")
            expect(page.locator(".counter")).to_contain_text(f"Quầy {POINT}")
            expect(page.locator(".counter")).to_contain_text("Sở Tư pháp")
            expect(page.locator("main")).to_contain_text(CONTROLLER)
            zalo = page.get_by_role("link", name="Mở Zalo")
            assert zalo.get_attribute("href") == f"https://zalo.me/{OA_ID}"
            expect(page.locator(".code")).to_have_text(counter_short_code(TEST_SECRET, POINT))
            telegram = page.get_by_role("link", name="Mở Telegram")
            assert telegram.get_attribute("href") == f"https://t.me/{BOT}?start={payload}"
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            page.set_viewport_size({"width": 360, "height": 740})  # the narrowest common phone
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            page.set_viewport_size(PHONE)

            # Consent, then questions, by taps.
            page.get_by_role("button", name="Trả lời ngay trên trình duyệt").tap()
            expect(page.locator(".notices")).to_contain_text("THÔNG BÁO VỀ DỮ LIỆU CÁ NHÂN")
            expect(page.get_by_role("group")).to_contain_text("như thông báo trên")
            page.get_by_role("button", name="Tôi đồng ý tham gia").tap()
            expect(page.locator(".lead")).to_have_text("Phần 1/8 · Tiếp cận dịch vụ · Câu 1/5")
            for button in page.locator("button.option").all():
                box = button.bounding_box()
                assert box is not None and box["height"] >= 48
            page.get_by_role("button", name="Người dân").tap()
            expect(page.locator(".lead")).to_have_text("Phần 1/8 · Tiếp cận dịch vụ · Câu 2/5")
            page.get_by_role("button", name="Hài lòng", exact=True).tap()
            expect(page.locator(".lead")).to_have_text("Phần 1/8 · Tiếp cận dịch vụ · Câu 3/5")

            # Back shows the answer given; a new one replaces it; skip moves on.
            page.get_by_role("button", name="« Quay lại").tap()
            expect(page.locator(".lead")).to_have_text("Phần 1/8 · Tiếp cận dịch vụ · Câu 2/5")
            expect(page.get_by_role("group")).to_contain_text("Câu trả lời hiện tại: Hài lòng")
            page.get_by_role("button", name="Rất hài lòng").tap()
            page.get_by_role("button", name="Không trả lời").tap()
            expect(page.locator(".lead")).to_have_text("Phần 1/8 · Tiếp cận dịch vụ · Câu 4/5")

            # The tab is closed; a new one, with the same cookies, resumes.
            page.close()
            page = phone.new_page()
            page.goto(f"{served.url}/s/survey")
            expect(page.locator(".lead")).to_have_text("Phần 1/8 · Tiếp cận dịch vụ · Câu 4/5")
            while page.locator("textarea").count() == 0:
                page.locator("button.option").last.tap()
            page.get_by_label("Ý kiến của Ông/Bà").fill("Cán bộ nhiệt tình.")
            page.get_by_role("button", name="Gửi ý kiến").tap()
            expect(page.locator("h1")).to_contain_text("Cảm ơn Ông/Bà")
            cookie = next(c["value"] for c in phone.cookies() if c["name"] == "sipas_respondent")

            # The counter's tablet: one respondent finishes, the page resets by itself.
            tablet = browser.new_context(
                viewport={"width": 800, "height": 1280}, has_touch=True, java_script_enabled=False
            )
            screen = tablet.new_page()
            screen.goto(served.kiosk)
            screen.get_by_role("button", name="Bắt đầu khảo sát").tap()
            screen.get_by_role("button", name="Tôi đồng ý tham gia").tap()
            while screen.locator("textarea").count() == 0:
                screen.locator("button.option").first.tap()
            screen.get_by_role("button", name="Không trả lời").tap()
            expect(screen.locator("h1")).to_contain_text("Cảm ơn Ông/Bà")
            expect(screen.get_by_role("button", name="Bắt đầu khảo sát")).to_be_visible()
            assert [c for c in tablet.cookies() if c["name"] == "sipas_kiosk"] == []

            # Another tablet, left idle mid-way: it resets and the answers go.
            idle = tablet.new_page()
            idle.goto(served.idle_kiosk)
            idle.get_by_role("button", name="Bắt đầu khảo sát").tap()
            expect(idle.get_by_role("button", name="Tôi đồng ý tham gia")).to_be_visible()
            expect(idle.get_by_role("button", name="Bắt đầu khảo sát")).to_be_visible()
            phone.close()
            tablet.close()
        finally:
            browser.close()

    sessions, responses, stored = _database_state(served.database_url)
    assert sorted(responses) == [("kiosk", POINT), ("web", POINT)]
    assert sorted(sessions) == [
        ("kiosk", "cancelled"),
        ("kiosk", "completed"),
        ("web", "completed"),
    ]
    assert "Cán bộ nhiệt tình." in stored  # the search sees the answers
    for identifier in (cookie, user_agent, "HeadlessChrome", "127.0.0.1"):
        assert identifier not in stored


def test_axe_finds_no_serious_accessibility_violation_on_the_citizens_pages(
    served: Served,
) -> None:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    axe = Axe()
    found: dict[str, list[str]] = {}

    def check(page: Any, name: str) -> None:
        results = axe.run(page)
        found[name] = [
            f"{violation['id']} ({violation['impact']}): {violation['help']}"
            for violation in results.response["violations"]
            if violation["impact"] in SERIOUS
        ]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            # Script on here only for axe itself; the pages have none.
            page = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
            page.goto(f"{served.url}/s/{counter_payload(TEST_SECRET, POINT)}")
            check(page, "landing")
            page.goto(f"{served.url}/s/{counter_payload(TEST_SECRET, POINT)}?lang=en")
            check(page, "landing in English")
            page.goto(f"{served.url}/s/c_HN-00004-01_forged")
            check(page, "refusal")
            page.goto(f"{served.url}/s/{counter_payload(TEST_SECRET, POINT)}")
            page.get_by_role("button", name="Trả lời ngay trên trình duyệt").click()
            check(page, "consent")
            page.get_by_role("button", name="Xem toàn văn thông báo").click()
            check(page, "full privacy notice")
            page.get_by_role("button", name="Tôi đồng ý tham gia").click()
            page.get_by_role("button", name="Người dân").click()
            check(page, "scale question")
            while page.locator("textarea").count() == 0:
                page.locator("button.option").last.click()
            check(page, "comment")
            page.get_by_role("button", name="Không trả lời").click()
            check(page, "thanks")
            page.get_by_role("button", name="Xoá câu trả lời của tôi").click()
            check(page, "withdrawal")
            page.goto(served.kiosk)
            check(page, "kiosk")
        finally:
            browser.close()
    assert found == {name: [] for name in found}
    assert len(found) == 10
