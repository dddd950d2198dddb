"""The staff dashboard over HTTP: login, CSRF, rate limit, scope (403), figures as in the export."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import update

from analytics.aggregate import aggregate
from analytics.days import parse_period
from analytics.export import table_bytes
from analytics.method import load_method
from analytics.plan import plan, read_volumes
from analytics.query import ReportQuery
from analytics.report import index_table
from storage.db import Database
from storage.models import Answer, Invitation, StaffAccount
from storage.staff import Scope, add_staff, set_password
from storage.staff_logins import SignInLimits
from storage.volumes import ReportedVolume, check_volumes, record_volumes
from tests import hanoi
from tests.analytics.survey_rows import (
    PROFILE_LAYOUT,
    SIPAS_LAYOUT,
    TYPICAL,
    Survey,
    answers,
    profile,
)
from tests.conftest import TEST_SECRET
from tests.write_lock import another_process_could_write
from web.app import create_app
from web.dashboard.auth import SessionSigner
from web.dashboard.routes import dashboard_router

METHOD = load_method()
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
PERIOD = "2026-11"
PASSWORD = "correct horse battery"
EVIL_COMMENT = "<script>alert('x')</script> gọi tôi 0912 345 678"
ADMIN = "snv.admin"
VIEWER = "lan.ba-dinh"


@dataclass(frozen=True)
class Seeded:
    """A database with responses, aggregated, and two staff accounts (passwords set)."""

    database: Database
    password_code: str


async def seed(database: Database) -> Seeded:
    """November: ward 00004 with 26 responses (and a comment), 00070 with 12, and two
    small wards (3 each: suppressed, together, so no secondary suppression hides more)."""
    survey = Survey(database)
    await survey.units()
    async with database.transaction() as session:
        for code in ("00008", "00025"):
            await hanoi.add_ward(session, code, counters=[f"P-{code}"])
    await survey.many(15, TYPICAL, point="W1-A")
    await survey.many(10, TYPICAL | answers(PAKN="2"), point="W1-B")
    await survey.many(
        12, answers(TIEP_CAN="4", TTHC="2", CONG_CHUC="5", KET_QUA="4", PAKN="4"), point="W2-A"
    )
    await survey.many(3, TYPICAL, point="P-00008")
    await survey.many(3, TYPICAL, point="P-00025")
    await survey.many(12, TYPICAL | answers(TTHC="3"), point="W1-A", day=date(2026, 10, 8))
    commented = await survey.response(TYPICAL | {"y_kien_khac": EVIL_COMMENT}, point="W1-B")
    async with database.transaction() as session:
        # Stored as it came, to show that the page escapes and scrubs whatever is stored.
        await session.execute(
            update(Answer).where(Answer.item_code == "y_kien_khac").values(value=EVIL_COMMENT)
        )
        created = datetime(2026, 11, 5, 3, tzinfo=UTC)
        for number in range(4):
            session.add(
                Invitation(
                    id=f"inv{number}",
                    token_hash=f"t{number}",
                    short_code_hash=f"s{number}",
                    service_point_code="W1-A",
                    created_at=created,
                    expires_at=created + timedelta(days=3),
                    claimed_at=created if number < 3 else None,
                    completed_at=created if number < 2 else None,
                )
            )
    assert commented
    async with database.transaction() as session:
        # Coverage: W1-A 15 responses ÷ 20 dossiers, W1-B 11 ÷ 22 (below the 60 % target).
        reported = [
            ReportedVolume(2, "W1-A", date(2026, 11, 10), None, 20),
            ReportedVolume(3, "W1-B", date(2026, 11, 10), None, 22),
        ]
        volumes = await check_volumes(
            session, reported, scope=Scope(everything=True), source="volumes.csv"
        )
        await record_volumes(session, volumes, created)
    await aggregate(database, SIPAS_LAYOUT)
    now = datetime.now(UTC)
    async with database.transaction() as session:
        admin = await add_staff(
            session, TEST_SECRET, name=ADMIN, role="admin", unit_codes=[], now=now
        )
        set_password(admin.account, PASSWORD)
        viewer = await add_staff(
            session, TEST_SECRET, name=VIEWER, role="viewer", unit_codes=["00004"], now=now
        )
        set_password(viewer.account, PASSWORD)
        fresh = await add_staff(
            session, TEST_SECRET, name="new.staff", role="viewer", unit_codes=["00070"], now=now
        )
    return Seeded(database, fresh.password_code)


def app_for(database: Database, **options: object) -> FastAPI:
    defaults: dict[str, object] = {
        "secret": TEST_SECRET,
        "zone": ZONE,
        "min_cell_size": 10,
        "layout": SIPAS_LAYOUT,
        "method": METHOD,
        "cookie_secure": False,
    }
    router = dashboard_router(database, **(defaults | options))  # type: ignore[arg-type]
    return create_app([router])


@pytest.fixture
async def seeded(database: Database) -> Seeded:
    return await seed(database)


@pytest.fixture
async def client(seeded: Seeded) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_for(seeded.database))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def log_in(http: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    page = await http.get("/dashboard/login")
    return await http.post(
        "/dashboard/login",
        data={
            "name": name,
            "password": password,
            "csrf": csrf_of(page.text),
            "next": "/dashboard/",
        },
    )


def shown_values(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-code="([^"]+)" data-value="([^"]*)"', page))


async def test_unauthenticated_requests_go_to_the_login_page(client: httpx.AsyncClient) -> None:
    for path in (
        "/dashboard/",
        "/dashboard/ranking",
        "/dashboard/units/00004",
        "/dashboard/download/report.xlsx",
    ):
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/dashboard/login?next=")
    # A forged cookie is no session either.
    client.cookies.set("sipas_staff", "1.1800000000.00.forged", path="/dashboard")
    assert (await client.get("/dashboard/")).status_code == 303


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_login_needs_the_csrf_token_and_the_right_password(client: httpx.AsyncClient) -> None:
    page = await client.get("/dashboard/login")
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    missing = await client.post("/dashboard/login", data={"name": ADMIN, "password": PASSWORD})
    assert missing.status_code == 400
    wrong = await log_in(client, ADMIN, "not the password")
    assert wrong.status_code == 401 and "Tên đăng nhập hoặc mật khẩu không đúng." in wrong.text
    foreign = await client.post(
        "/dashboard/login",
        data={"name": ADMIN, "password": PASSWORD, "csrf": csrf_of(page.text)},
        headers={"origin": "https://evil.example"},
    )
    assert foreign.status_code == 400
    good = await log_in(client, ADMIN)
    assert good.status_code == 303 and good.headers["location"] == "/dashboard/"
    cookie = next(h for h in good.headers.get_list("set-cookie") if h.startswith("sipas_staff="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    overview = await client.get("/dashboard/")
    assert overview.status_code == 200
    # Logout ends the session, and the old cookie stays dead.
    token = client.cookies.get("sipas_staff")
    await client.post("/dashboard/logout", data={"csrf": csrf_of(overview.text)})
    client.cookies.set("sipas_staff", token or "", path="/dashboard")
    assert (await client.get("/dashboard/")).status_code == 303


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_the_login_rate_limit_trips(seeded: Seeded) -> None:
    app = app_for(seeded.database, sign_in=SignInLimits(attempts=3))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        for _ in range(3):
            assert (await log_in(http, ADMIN, "guess")).status_code == 401
        blocked = await log_in(http, ADMIN)  # even the right password, for now
        assert blocked.status_code == 429 and "Quá nhiều lần đăng nhập sai" in blocked.text


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_workers_share_logouts_and_the_login_rate_limit(seeded: Seeded) -> None:
    """Two workers over one database, as `sipas serve --workers 2` runs them."""
    first, second = (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=app_for(seeded.database, sign_in=SignInLimits(attempts=3))
            ),
            base_url="http://testserver",
        )
        for _ in range(2)
    )
    async with first, second:
        assert (await log_in(first, VIEWER)).status_code == 303
        second.cookies.set("sipas_staff", first.cookies["sipas_staff"], path="/dashboard")
        assert (await second.get("/dashboard/")).status_code == 200
        overview = await first.get("/dashboard/")
        await first.post("/dashboard/logout", data={"csrf": csrf_of(overview.text)})
        assert (await second.get("/dashboard/")).status_code == 303  # ended there too

        for worker in (first, second, first):  # guesses spread over the workers add up
            assert (await log_in(worker, ADMIN, "guess")).status_code == 401
        assert (await log_in(second, ADMIN)).status_code == 429


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_guesses_sent_at_once_get_no_more_tries_than_one_at_a_time(seeded: Seeded) -> None:
    app = app_for(seeded.database, sign_in=SignInLimits(attempts=3))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        await http.get("/dashboard/login")  # one CSRF cookie for all of them
        statuses = await asyncio.gather(
            *(log_in(http, ADMIN, f"guess {number}") for number in range(10))
        )
    assert sorted(response.status_code for response in statuses) == [401] * 3 + [429] * 7


class Sleeps:
    """Records how long each sign-in was held (tests do not wait)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def from_address(app: FastAPI, address: str, scheme: str = "http") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=f"{scheme}://testserver")


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_wrong_passwords_from_one_address_do_not_lock_the_owner_out(seeded: Seeded) -> None:
    sleeps = Sleeps()
    app = app_for(seeded.database, sign_in=SignInLimits(attempts=3), sleep=sleeps)
    async with (
        from_address(app, "203.0.113.66") as guesser,
        from_address(app, "198.51.100.4") as owner,
    ):
        for _ in range(3):
            assert (await log_in(guesser, ADMIN, "guess")).status_code == 401
        assert (await log_in(guesser, ADMIN)).status_code == 429  # that address, that name
        assert (await log_in(guesser, VIEWER, "guess")).status_code == 401  # other names: no

        signed_in = await log_in(owner, ADMIN)

        assert signed_in.status_code == 303
        assert (await owner.get("/dashboard/")).status_code == 200
    # The owner's right password waited for the name's three failures; nothing else waited.
    assert sleeps.seconds == [0, 0, 0, 0, 1]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_guessing_one_name_from_many_addresses_waits_longer_each_try(seeded: Seeded) -> None:
    sleeps = Sleeps()
    limits = SignInLimits(attempts=2, max_delay=timedelta(seconds=30))
    app = app_for(seeded.database, sign_in=limits, sleep=sleeps)
    for number in range(5):
        async with from_address(app, f"203.0.113.{number}") as guesser:
            for _ in range(limits.attempts):
                assert (await log_in(guesser, ADMIN, "guess")).status_code == 401
    assert sleeps.seconds == [0, 0, 1, 2, 4, 8, 16, 30, 30, 30]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_one_address_trying_many_names_is_stopped(seeded: Seeded) -> None:
    app = app_for(seeded.database, sign_in=SignInLimits(attempts=3, address_attempts=4))
    async with from_address(app, "203.0.113.66") as guesser:
        statuses = [
            (await log_in(guesser, name, "guess")).status_code
            for name in ("a", "b", "c", "d", ADMIN)
        ]
    assert statuses == [401, 401, 401, 401, 429]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_signed_in_form_takes_only_the_token_of_its_own_session(seeded: Seeded) -> None:
    app = app_for(seeded.database)
    async with (
        from_address(app, "198.51.100.4") as victim,
        from_address(app, "203.0.113.66") as attacker,
    ):
        assert (await log_in(victim, ADMIN)).status_code == 303
        assert (await log_in(attacker, VIEWER)).status_code == 303
        theirs = csrf_of((await attacker.get("/dashboard/")).text)
        # A pre-session cookie and its token, as anyone gets them from the sign-in page,
        # planted in the victim's browser.
        anyone = from_address(app, "203.0.113.67")
        planted_token = csrf_of((await anyone.get("/dashboard/login")).text)
        planted_seed = anyone.cookies["sipas_csrf"]
        await anyone.aclose()
        victim.cookies.set("sipas_csrf", planted_seed, path="/dashboard")

        for token in (theirs, planted_token):
            forged = await victim.post("/dashboard/logout", data={"csrf": token})
            assert forged.status_code == 400
            assert (await victim.get("/dashboard/")).status_code == 200  # still signed in
        own = csrf_of((await victim.get("/dashboard/")).text)
        assert own not in (theirs, planted_token)
        assert (await victim.post("/dashboard/logout", data={"csrf": own})).status_code == 303
        assert (await victim.get("/dashboard/")).status_code == 303  # signed out


def secure_app(database: Database, *, cookie_secure: bool) -> FastAPI:
    router = dashboard_router(
        database,
        secret=TEST_SECRET,
        zone=ZONE,
        min_cell_size=10,
        layout=SIPAS_LAYOUT,
        method=METHOD,
        cookie_secure=cookie_secure,
    )
    return create_app([router])


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_over_https_every_dashboard_cookie_is_a_host_cookie(seeded: Seeded) -> None:
    # Reached over HTTPS without SIPAS_PUBLIC_URL: the scheme a proxy forwarded in
    # X-Forwarded-Proto, as uvicorn's proxy headers set it.
    app = secure_app(seeded.database, cookie_secure=False)
    async with from_address(app, "198.51.100.4", "https") as browser:
        page = await browser.get("/dashboard/login")
        signed_in = await browser.post(
            "/dashboard/login",
            data={"name": ADMIN, "password": PASSWORD, "csrf": csrf_of(page.text)},
        )
        switched = await browser.get("/dashboard/language/en")
        cookies = [
            *page.headers.get_list("set-cookie"),
            *signed_in.headers.get_list("set-cookie"),
            *switched.headers.get_list("set-cookie"),
        ]
        assert {cookie.split("=")[0] for cookie in cookies} == {
            "__Host-sipas_csrf",
            "__Host-sipas_staff",
            "__Host-sipas_lang",
        }
        for cookie in cookies:
            assert "Path=/;" in cookie and "; Secure" in cookie and "Domain" not in cookie
        assert (await browser.get("/dashboard/")).status_code == 200
        # A cookie without the prefix (set by another host of the domain, or over plain
        # HTTP) is no session.
        token = browser.cookies["__Host-sipas_staff"]
        browser.cookies.clear()
        browser.cookies.set("sipas_staff", token)
        assert (await browser.get("/dashboard/")).status_code == 303


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_an_https_public_url_makes_host_cookies_whatever_the_proxy_says(
    seeded: Seeded,
) -> None:
    app = secure_app(seeded.database, cookie_secure=True)
    async with from_address(app, "198.51.100.4", "http") as browser:
        page = await browser.get("/dashboard/login")
    (cookie,) = page.headers.get_list("set-cookie")
    assert cookie.startswith("__Host-sipas_csrf=") and "Path=/;" in cookie and "; Secure" in cookie


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_every_answer_under_the_dashboard_carries_the_pages_headers(
    client: httpx.AsyncClient,
) -> None:
    answers = [
        await client.get("/dashboard/nowhere"),  # the framework's JSON 404
        await client.delete("/dashboard/login"),  # its 405
        await client.post(  # its 400: a form that cannot be parsed
            "/dashboard/login",
            content=b"--x\r\n",
            headers={"Content-Type": "multipart/form-data"},
        ),
        await client.post("/dashboard/login", content=b"x" * (1024 * 1024)),  # the body limit
        await client.get("/dashboard/login"),  # a page
    ]
    assert [answer.status_code for answer in answers] == [404, 405, 400, 413, 200]
    for answer in answers:
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"


def test_two_logins_in_the_same_second_get_two_cookies() -> None:
    signer = SessionSigner(TEST_SECRET, timedelta(hours=12))
    account = StaffAccount(id=1, name="lan", password_hash="$argon2id$x")
    now = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    first, second = signer.issue(account, now), signer.issue(account, now)
    assert first != second  # logging out one leaves the other
    assert signer.valid(first, account, now) and signer.valid(second, account, now)


async def test_overview_figures_are_the_exports(client: httpx.AsyncClient, seeded: Seeded) -> None:
    assert (await log_in(client, ADMIN)).status_code == 303
    page = await client.get(f"/dashboard/?period={PERIOD}&level=commune")
    assert page.status_code == 200
    shown = shown_values(page.text)
    export = await index_table(
        seeded.database, ReportQuery(parse_period(PERIOD), "commune", SIPAS_LAYOUT, METHOD, 10)
    )
    rows = list(csv.DictReader(io.StringIO(table_bytes(export, "csv").decode())))
    checked = 0
    for row in rows:
        if row["respondent_type"] != "all" or row["scope"] in ("item", "expectation"):
            continue
        key = row["unit_code"] + (f":{row['code']}" if row["code"] else "")
        assert shown[key] == row["index_pct"], key
        checked += 1
    assert checked == 24  # four wards × (overall + five elements)
    assert shown["00008"] == shown["00025"] == ""  # suppressed in the export and on the page
    assert shown["00004"] and shown["00070"]
    assert '<svg class="map"' in page.text and 'data-code="00004"' in page.text
    downloaded = await client.get(f"/dashboard/download/indices.csv?period={PERIOD}&level=commune")
    assert downloaded.content == table_bytes(export, "csv")

    manifest = await client.get(f"/dashboard/download/export.manifest.json?period={PERIOD}")
    scoring = await client.get(f"/dashboard/download/export.csv?period={PERIOD}")
    described = json.loads(manifest.content)
    assert described["files"][0]["name"] == f"sipas-{PERIOD}-commune.csv"
    import hashlib

    assert described["files"][0]["sha256"] == hashlib.sha256(scoring.content).hexdigest()


async def test_a_viewer_sees_their_ward_only(client: httpx.AsyncClient) -> None:
    assert (await log_in(client, VIEWER)).status_code == 303
    overview = await client.get(f"/dashboard/?period={PERIOD}")
    assert "Phường Ba Đình" in overview.text and "Phường Hoàn Kiếm</a>" not in overview.text
    assert "Yếu tố thấp nhất" in overview.text  # PAKN, pulled down by W1-B
    # Vietnamese that reads as Vietnamese: the period named, the caveat on the page.
    assert "Tổng quan · Tháng 11/2026" in overview.text and 'value="11/2026"' in overview.text
    assert "không phải Chỉ số SIPAS quốc gia" in overview.text
    unit = await client.get(f"/dashboard/units/00004?period={PERIOD}")
    assert unit.status_code == 200
    # The comment is text, not markup, and the phone number is scrubbed.
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in unit.text
    assert "<script>" not in unit.text and "0912" not in unit.text
    assert "[số điện thoại]" in unit.text
    coverage = re.search(r"Quầy W1-A <span class=\"code\">W1-A</span></th>(.*?)</tr>", unit.text)
    assert coverage is not None
    assert re.findall(r">([^<]+)</td>", coverage.group(1)) == [
        "4",
        "3",
        "2",
        "50,0%",
        "20",
        "75,0%",
    ]
    below = re.search(r"Quầy W1-B <span class=\"code\">W1-B</span></th>(.*?)</tr>", unit.text)
    assert below is not None
    assert re.findall(r">([^<]+)</td>", below.group(1))[:5] == ["0", "0", "0", "–", "22"]
    assert '50,0% <strong class="below">(dưới mục tiêu)</strong></td>' in below.group(1)
    assert "mục tiêu 60%." in unit.text
    counter = await client.get(f"/dashboard/units/W1-B?period={PERIOD}")
    assert counter.status_code == 200
    assert "Ý kiến chỉ hiển thị khi đơn vị có ít nhất 20" in counter.text  # 11 respondents

    for path in (
        f"/dashboard/units/00070?period={PERIOD}",
        f"/dashboard/units/W2-A?period={PERIOD}",
        f"/dashboard/download/indices.csv?period={PERIOD}&unit=00070",
        f"/dashboard/download/report.xlsx?period={PERIOD}&unit=00070",
        f"/dashboard/download/export.csv?period={PERIOD}",
    ):
        assert (await client.get(path)).status_code == 403, path
    report = await client.get(f"/dashboard/download/report.xlsx?period={PERIOD}")
    assert load_workbook(io.BytesIO(report.content)).sheetnames == [
        "Tổng hợp",
        "00004 Phường Ba Đình",
        "Ghi chú",
    ]
    own = await client.get(f"/dashboard/download/indices.csv?period={PERIOD}")
    assert {row["unit_code"] for row in csv.DictReader(io.StringIO(own.text))} == {"00004"}


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_one_time_code_sets_the_password_once(
    client: httpx.AsyncClient, seeded: Seeded
) -> None:
    page = await client.get(f"/dashboard/password?code={seeded.password_code}")
    assert "Tài khoản: new.staff" in page.text
    form = {"code": seeded.password_code, "password": "a new password", "csrf": csrf_of(page.text)}
    mismatch = await client.post("/dashboard/password", data=form | {"repeat": "other"})
    assert mismatch.status_code == 400
    done = await client.post("/dashboard/password", data=form | {"repeat": "a new password"})
    assert done.status_code == 200 and "Đã đặt mật khẩu" in done.text
    again = await client.post("/dashboard/password", data=form | {"repeat": "a new password"})
    assert again.status_code == 400 and "đã dùng" in again.text
    assert (await log_in(client, "new.staff", "a new password")).status_code == 303


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_new_password_is_hashed_off_the_event_loop_and_without_the_write_lock(
    client: httpx.AsyncClient, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hashing takes tens of milliseconds of CPU: on the event loop it would stop every
    survey event for as long, and inside a transaction hold SQLite's one write lock too."""
    event_loop_thread = threading.get_ident()
    seen: list[tuple[bool, bool]] = []  # (on the event loop's thread, could another process write)
    hash_password = PasswordHasher.hash

    def watched(self: PasswordHasher, password: str | bytes, *, salt: bytes | None = None) -> str:
        on_loop = threading.get_ident() == event_loop_thread
        seen.append((on_loop, another_process_could_write(seeded.database)))
        return hash_password(self, password, salt=salt)

    monkeypatch.setattr(PasswordHasher, "hash", watched)
    page = await client.get(f"/dashboard/password?code={seeded.password_code}")
    form = {"code": seeded.password_code, "password": "a new password", "csrf": csrf_of(page.text)}
    done = await client.post("/dashboard/password", data=form | {"repeat": "a new password"})
    assert done.status_code == 200 and "Đã đặt mật khẩu" in done.text
    assert seen == [(False, True)]
    assert (await log_in(client, "new.staff", "a new password")).status_code == 303


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_english_switch(client: httpx.AsyncClient) -> None:
    await log_in(client, VIEWER)
    switched = await client.get("/dashboard/language/en?next=/dashboard/ranking")
    assert switched.headers["location"] == "/dashboard/ranking"
    page = await client.get(f"/dashboard/ranking?period={PERIOD}")
    assert '<html lang="en">' in page.text and "Ranking" in page.text
    evil = await client.get("/dashboard/language/vi?next=https://evil.example/")
    assert evil.headers["location"] == "/dashboard/"


@pytest.mark.parametrize(
    ("today", "shown", "notice"),
    [(date(2026, 11, 5), "Tháng 10/2026", True), (date(2026, 11, 25), "Tháng 11/2026", False)],
)
async def test_the_default_view_skips_a_young_month_and_says_so(
    seeded: Seeded, today: date, shown: str, notice: bool
) -> None:
    noon = datetime.combine(today, datetime.min.time(), tzinfo=ZONE).replace(hour=12)
    app = app_for(seeded.database, clock=lambda: noon)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert (await log_in(http, ADMIN)).status_code == 303
        overview = await http.get("/dashboard/")
    assert f"<h1>Tổng quan · {shown}</h1>" in overview.text
    said = "tháng trọn vẹn gần nhất: Tháng 11/2026 mới bắt đầu"
    assert (said in overview.text) is notice


async def test_a_unit_page_shows_progress_against_the_sampling_plan(seeded: Seeded) -> None:
    volumes = b"authority,counter,month,dossiers\n00004,,2026-11,100\n00070,,2026-10,50\n"
    needs = plan(read_volumes(volumes, source="volumes.csv"))
    transport = httpx.ASGITransport(app=app_for(seeded.database, plan=needs))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert (await log_in(http, ADMIN)).status_code == 303
        ward = await http.get(f"/dashboard/units/00004?period={PERIOD}")
        other = await http.get(f"/dashboard/units/00070?period={PERIOD}")
    # 100 dossiers at ±5 points: 80 answers by either formula (100/1.25; Wilson 79.3 → 80).
    found = re.search(r"(\d+) trên 80 câu trả lời cần có \(([\d,]+)%\)", ward.text)
    assert found is not None, ward.text
    assert found.group(2) == f"{100 * int(found.group(1)) / 80:.1f}".replace(".", ",")
    assert "100 hồ sơ" in ward.text and '<progress max="80"' in ward.text
    assert "Tiến độ so với kế hoạch" not in other.text  # its plan is for October


async def admin_pages(database: Database, *paths: str, **options: object) -> list[str]:
    """The pages at `paths` as an admin sees them (the database already holds the figures)."""
    async with database.transaction() as session:
        admin = await add_staff(
            session, TEST_SECRET, name=ADMIN, role="admin", unit_codes=[], now=datetime.now(UTC)
        )
        set_password(admin.account, PASSWORD)
    transport = httpx.ASGITransport(app=app_for(database, **options))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        await log_in(http, ADMIN)
        return [(await http.get(path)).text for path in paths]


async def test_the_ranking_lists_units_without_every_element_apart(database: Database) -> None:
    survey = Survey(database)
    await survey.units()
    await survey.many(12, TYPICAL | answers(PAKN="2"), point="W1-A")  # 80.0 on five elements
    await survey.many(12, answers(TIEP_CAN="5", TTHC="4"), point="W1-B")  # 100.0 on two
    await aggregate(database, SIPAS_LAYOUT)
    (page,) = await admin_pages(database, f"/dashboard/ranking?period={PERIOD}&level=service_point")
    ranked = re.findall(r'<td class="num">(\d+)</td>\s*<th scope="row"><a [^>]*>([^<]+)</a>', page)
    assert ranked == [("1", "Quầy W1-A")]
    partial = re.findall(r'<tr class="partial-row">.*?</tr>', page, flags=re.S)
    assert len(partial) == 1 and "Quầy W1-B" in partial[0]
    assert "chỉ có 2/5 yếu tố: không xếp hạng" in partial[0]


async def test_a_unit_page_shows_the_expectations_of_question_10(database: Database) -> None:
    survey = Survey(database)
    await survey.units()
    # 10.1: 9 of 12 "Rất nhiều" or "Nhiều" = 75%; 10.2 answered by nobody.
    await survey.many(9, TYPICAL | {"10.1": "rat_nhieu"}, point="W1-A")
    await survey.many(3, TYPICAL | {"10.1": "it"}, point="W1-A")
    await aggregate(database, SIPAS_LAYOUT)
    (page,) = await admin_pages(database, f"/dashboard/units/00004?period={PERIOD}")
    values = shown_values(page)
    assert values["00004:10.1"] == "75.00" and values["00004:10.2"] == ""
    assert "Nhu cầu, mong đợi (câu 10)" in page


async def test_a_unit_page_has_a_table_per_profile_item_with_hidden_bands_marked(
    database: Database,
) -> None:
    survey = Survey(database)
    await survey.units()
    await survey.many(12, TYPICAL | answers(TTHC="2") | profile("nam", "18-25"), point="W1-A")
    await survey.many(11, TYPICAL | profile("nu", "18-25"), point="W1-A")
    await survey.many(3, TYPICAL, point="W1-A")  # no profile
    await aggregate(database, PROFILE_LAYOUT)
    (page,) = await admin_pages(
        database, f"/dashboard/units/00004?period={PERIOD}", layout=PROFILE_LAYOUT
    )
    assert "Theo đặc điểm người trả lời" in page
    tables = dict(
        re.findall(r'<table class="breakdown" data-breakdown="(\w+)">(.*?)</table>', page, re.S)
    )
    assert set(tables) == {"gioi_tinh", "do_tuoi"}
    values = shown_values(page)
    # Men: TTHC 0, the rest 100 → 80; women hidden: the ward minus men and the 3 unstated.
    assert values["gioi_tinh=nam"] == "80.00" and values["gioi_tinh=nam:TTHC"] == "0.00"
    assert values["gioi_tinh=nu"] == "" and values["gioi_tinh=khong_cho_biet"] == ""
    assert "Không cho biết" in tables["gioi_tinh"]
    assert values["do_tuoi=18-25"] == "" and values["do_tuoi=khong_cho_biet"] == ""
    assert tables["gioi_tinh"].count('class="index suppressed"') == 2 * 6


async def test_a_window_of_days_is_chosen_with_from_and_to(client: httpx.AsyncClient) -> None:
    await log_in(client, ADMIN)
    month = await client.get(f"/dashboard/ranking?period={PERIOD}")
    days = await client.get("/dashboard/ranking?from=2026-11-01&to=2026-11-30")
    assert days.status_code == 200 and "2026-11-01..2026-11-30" in days.text
    # November's days are November: the same figures as the calendar month.
    assert shown_values(days.text) == shown_values(month.text) != {}
    label = await client.get("/dashboard/ranking?period=2026-11-01..2026-11-30")
    assert shown_values(label.text) == shown_values(month.text)
    assert (await client.get("/dashboard/ranking?from=2026-11-01")).status_code == 400
