"""The dashboard in a real headless browser (Playwright driving Debian's Chromium) on a phone screen.

A ward's staff member logs in, reads their ward's index and weakest element (the same
numbers as the export file), opens the ward, downloads the spreadsheet; a comment with
`<script>` stays text; another ward is 403; a stranger lands on the login page and trips
the login rate limit. axe-core finds no serious or critical accessibility violation on the
staff's pages, the map with its unit links included.
"""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from openpyxl import load_workbook

from analytics.days import parse_period
from analytics.export import table_bytes
from analytics.query import ReportQuery
from analytics.report import index_table
from questionnaires import load_bundled
from storage.db import Database
from storage.migrate import upgrade
from storage.staff_logins import SignInLimits
from tests.analytics.survey_rows import SIPAS_LAYOUT
from tests.fakes.served import ServedApp
from tests.web.test_dashboard import ADMIN, METHOD, PASSWORD, PERIOD, VIEWER, app_for, seed
from web.dashboard.figures import questionnaire_labels

if TYPE_CHECKING:
    from playwright.sync_api import Dialog, ViewportSize

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PHONE: ViewportSize = {"width": 390, "height": 844}
SERIOUS = ("serious", "critical")


def _chromium() -> str:
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if found is None:
        pytest.fail(
            "Chromium is missing: the browser test needs Debian's Chromium. Install it with "
            "`apt-get update && apt-get install -y chromium` (never `playwright install`)."
        )
    return found


class DashboardServer:
    """The real app served by uvicorn on a free 127.0.0.1 port in a background thread."""

    def __init__(self, url: str, **options: object) -> None:
        self.url = url
        self.base = ""
        self.options = options
        self._served: ServedApp | None = None

    def __enter__(self) -> DashboardServer:
        # Its own Database: the server's event loop is not the test's.
        app = app_for(Database(self.url), sign_in=SignInLimits(attempts=3), **self.options)
        self._served = ServedApp(app, name="the dashboard server").start()
        self.base = self._served.url
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._served is not None:
            self._served.stop()


def seeded_file(url: str) -> bytes:
    """Seed a SQLite file; the export's CSV bytes for the test period."""

    async def prepare() -> bytes:
        await upgrade(url)
        database = Database(url)
        try:
            await seed(database)
            query = ReportQuery(parse_period(PERIOD), "commune", SIPAS_LAYOUT, METHOD, 10)
            table = await index_table(database, query)
            return table_bytes(table, "csv")
        finally:
            await database.dispose()

    return asyncio.run(prepare())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[DashboardServer, bytes]]:
    """The seeded dashboard, and the export's CSV bytes for the test period."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'sipas.db'}"
    export = seeded_file(url)
    with DashboardServer(url) as server:
        yield server, export


def test_a_ward_officer_on_a_phone_and_a_stranger(
    served: tuple[DashboardServer, bytes], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    server, export = served
    base = server.base
    rows = [
        row
        for row in csv.DictReader(io.StringIO(export.decode()))
        if row["unit_code"] == "00004" and row["respondent_type"] == "all"
    ]
    overall = next(row for row in rows if row["scope"] == "overall")
    elements = [row for row in rows if row["scope"] == "element"]
    weakest = min(elements, key=lambda row: float(row["index_pct"]))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            officer = browser.new_context(
                viewport=PHONE, is_mobile=True, has_touch=True, accept_downloads=True
            )
            page = officer.new_page()
            dialogs: list[str] = []

            def dismiss(dialog: Dialog) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", dismiss)

            # Unauthenticated: the login page, which is keyboard-first.
            page.goto(f"{base}/dashboard/?period={PERIOD}")
            assert page.url.startswith(f"{base}/dashboard/login")
            page.keyboard.press("Tab")
            expect(page.locator(".skip")).to_be_focused()
            page.get_by_label("Tên đăng nhập").fill(VIEWER)
            page.get_by_label("Mật khẩu").fill(PASSWORD)
            page.get_by_role("button", name="Đăng nhập").click()
            page.wait_for_url(f"{base}/dashboard/?period={PERIOD}")

            # The ward's index and its weakest element, as in the export file.
            card = page.locator(".card .index[data-code='00004']")
            assert card.get_attribute("data-value") == overall["index_pct"]
            # One decimal, with the Vietnamese decimal comma.
            assert card.inner_text() == f"{float(overall['index_pct']):.1f}".replace(".", ",")
            for element in elements:
                cell = page.locator(f".index[data-code='00004:{element['code']}']").first
                assert cell.get_attribute("data-value") == element["index_pct"]
            expect(page.locator(".weakest")).to_contain_text(weakest["code"].title())
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

            # The CSV offered on the page is the export's table.
            with page.expect_download() as csv_download:
                page.get_by_role("link", name="Bảng chỉ số (CSV)").click()
            assert Path(csv_download.value.path()).read_bytes() == b"".join(
                line
                for line in export.splitlines(keepends=True)
                if line.startswith(b"period") or b",00004," in line
            )

            # The ward's page: elements, comments as text.
            page.locator(".card h3 a", has_text="Phường Ba Đình").click()
            page.wait_for_url(f"{base}/dashboard/units/00004?period={PERIOD}")
            comment = page.locator(".comments li").first
            assert "<script>alert('x')</script>" in comment.inner_text()
            assert "0912" not in comment.inner_text()
            assert dialogs == []

            with page.expect_download() as xlsx_download:
                page.get_by_role("link", name="Báo cáo Excel (XLSX)").click()
            assert xlsx_download.value.suggested_filename == f"sipas-report-{PERIOD}-commune.xlsx"
            book = load_workbook(io.BytesIO(Path(xlsx_download.value.path()).read_bytes()))
            assert book.sheetnames == ["Tổng hợp", "00004 Phường Ba Đình", "Ghi chú"]

            # Another ward: 403, page and download alike.
            response = page.goto(f"{base}/dashboard/units/00070?period={PERIOD}")
            assert response is not None and response.status == 403
            expect(page.get_by_role("alert")).to_have_text("Bạn không có quyền xem mục này.")
            download = officer.request.get(
                f"{base}/dashboard/download/report.xlsx?period={PERIOD}&unit=00070"
            )
            assert download.status == 403

            # English, then log out.
            page.goto(f"{base}/dashboard/?period={PERIOD}")
            page.get_by_role("link", name="Switch to English").click()
            expect(page.locator("h1")).to_have_text("Overview · November 2026")
            page.get_by_role("button", name="Log out").click()
            page.wait_for_url(f"{base}/dashboard/login")

            # A stranger: guesses until the rate limit trips.
            stranger = browser.new_context(viewport=PHONE).new_page()
            stranger.goto(f"{base}/dashboard/units/00004")
            assert "/dashboard/login" in stranger.url
            for _ in range(3):
                stranger.get_by_label("Tên đăng nhập").fill(VIEWER)
                stranger.get_by_label("Mật khẩu").fill("password123")
                stranger.get_by_role("button", name="Đăng nhập").click()
                expect(stranger.get_by_role("alert")).to_contain_text("không đúng")
            stranger.get_by_label("Tên đăng nhập").fill(VIEWER)
            stranger.get_by_label("Mật khẩu").fill(PASSWORD)
            stranger.get_by_role("button", name="Đăng nhập").click()
            expect(stranger.get_by_role("alert")).to_contain_text("Quá nhiều lần đăng nhập sai")
        finally:
            browser.close()


def serious_violations(page: Any) -> list[str]:
    """What axe-core finds on the page at impact serious or critical, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']}"
        for violation in results.response["violations"]
        if violation["impact"] in SERIOUS
    ]


def test_axe_finds_no_serious_accessibility_violation_on_the_staff_pages(
    served: tuple[DashboardServer, bytes],
) -> None:
    from playwright.sync_api import sync_playwright

    server, _ = served
    base = server.base
    found: dict[str, list[str]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
            page.goto(f"{base}/dashboard/login")
            found["login"] = serious_violations(page)
            page.get_by_label("Tên đăng nhập").fill(ADMIN)
            page.get_by_label("Mật khẩu").fill(PASSWORD)
            page.get_by_role("button", name="Đăng nhập").click()
            page.wait_for_url(f"{base}/dashboard/")
            page.goto(f"{base}/dashboard/?period={PERIOD}")
            assert page.locator("svg.map a").count() > 0, "the overview's map links its units"
            found["overview with the map"] = serious_violations(page)
            page.goto(f"{base}/dashboard/units/00004?period={PERIOD}")
            found["a ward"] = serious_violations(page)
        finally:
            browser.close()
    assert found == {name: [] for name in found}


def test_the_units_table_fits_a_1366_px_screen(tmp_path: Path) -> None:
    """An admin on a 1366×768 laptop sees every element column of the units table, with
    the questionnaire's own (long) element names, without scrolling sideways."""
    from playwright.sync_api import sync_playwright

    url = f"sqlite+aiosqlite:///{tmp_path / 'sipas.db'}"
    seeded_file(url)
    labels = questionnaire_labels(load_bundled())
    with (
        DashboardServer(url, labels=labels) as server,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
            page.goto(f"{server.base}/dashboard/login")
            page.get_by_label("Tên đăng nhập").fill(ADMIN)
            page.get_by_label("Mật khẩu").fill(PASSWORD)
            page.get_by_role("button", name="Đăng nhập").click()
            page.wait_for_url(f"{server.base}/dashboard/")
            page.goto(f"{server.base}/dashboard/?period={PERIOD}")
            region = page.locator("[aria-labelledby='units-heading'].scroll")
            widths = region.evaluate("element => [element.scrollWidth, element.clientWidth]")
            assert widths[0] <= widths[1], widths  # nothing cut off, no sideways scrolling
            last = page.locator("table.units thead th").last
            assert "Tiếp nhận, xử lý phản ánh" in last.inner_text()
            box = last.bounding_box()
            assert box is not None and box["x"] + box["width"] <= 1366
            assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        finally:
            browser.close()
