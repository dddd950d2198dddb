"""`sipas invite`, `qr`, `kiosk`, `apikey` and `staff codes`, run as an operator runs them, on a
SQLite file."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import zxingcpp
from click.testing import CliRunner, Result
from PIL import Image
from sqlalchemy import select, update

from bot.cli import cli
from storage.api_keys import verify_api_key
from storage.db import Database
from storage.invitations import counter_payload, counter_short_code, find_invitation
from storage.kiosks import live_kiosk
from storage.migrate import upgrade
from storage.models import Invitation, ServicePoint
from tests.conftest import TEST_SECRET
from tests.survey_driver import OTHER_POINT, POINT, add_counters

BOT = "sipas_hanoi_bot"
DOSSIER = "000.00.01.H26-261120-0001"


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sipas.db'}"
    monkeypatch.setenv("SIPAS_DATABASE_URL", url)
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIPAS_TELEGRAM_BOT_USERNAME", BOT)
    monkeypatch.setenv("SIPAS_LOG_LEVEL", "WARNING")

    async def seed() -> None:
        await upgrade(url)
        database = Database(url)
        await add_counters(database)
        async with database.transaction() as tx:
            point = await tx.get(ServicePoint, OTHER_POINT)
            assert point is not None
            point.active = False
        await database.dispose()

    asyncio.run(seed())
    return url


def sipas(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def fields(result: Result) -> dict[str, str]:
    """The `name   value` lines of the output."""
    assert result.exit_code == 0, result.output
    return {
        match[1]: match[2]
        for match in re.finditer(r"^(\w[\w ]*?) {2,}(\S+)", result.stdout, re.MULTILINE)
    }


def in_database(url: str, payload: str) -> Invitation | None:
    async def look() -> Invitation | None:
        database = Database(url)
        async with database.reading() as tx:
            found = await find_invitation(tx, TEST_SECRET, payload)
        await database.dispose()
        return found

    return asyncio.run(look())


# --- sipas invite ---------------------------------------------------------------------------


def test_invite_prints_payload_short_code_and_link_of_a_stored_invitation(
    database_url: str,
) -> None:
    shown = fields(sipas("invite", "--service-point", POINT))
    assert shown["payload"].startswith("i_")
    assert shown["link"] == f"https://t.me/{BOT}?start={shown['payload']}"
    assert re.fullmatch(r"[A-Z2-9]{8}", shown["short code"])
    invitation = in_database(database_url, shown["payload"])
    assert invitation is not None and invitation.dossier_hash is None
    by_short_code = in_database(database_url, shown["short code"])
    assert by_short_code is not None and by_short_code.id == invitation.id
    again = fields(sipas("invite", "--service-point", POINT))
    assert again["payload"] != shown["payload"]  # no dossier: a new single-use one each time


def test_invite_for_a_dossier_shows_the_same_invitation_again(database_url: str) -> None:
    first = sipas("invite", "--service-point", POINT, "--dossier", DOSSIER, "--ttl-hours", "2")
    second = sipas("invite", "--service-point", POINT, "--dossier", DOSSIER)
    assert fields(first)["payload"] == fields(second)["payload"]
    assert "already minted for this dossier" in second.stdout
    invitation = in_database(database_url, fields(first)["payload"])
    assert invitation is not None and invitation.dossier_hash is not None
    assert (invitation.expires_at - invitation.created_at).total_seconds() == 2 * 3600


def test_invite_refuses_a_dossier_already_answered(database_url: str) -> None:
    payload = fields(sipas("invite", "--service-point", POINT, "--dossier", DOSSIER))["payload"]

    async def complete() -> None:
        database = Database(database_url)
        async with database.transaction() as tx:
            await tx.execute(update(Invitation).values(completed_at=datetime.now(UTC)))
        await database.dispose()

    asyncio.run(complete())
    assert in_database(database_url, payload) is not None
    result = sipas("invite", "--service-point", POINT, "--dossier", DOSSIER)
    assert result.exit_code == 1 and "already answered" in result.output


def stored_invitations(database_url: str) -> list[Invitation]:
    """Every invitation in the database, read after the command ran."""

    async def read() -> list[Invitation]:
        database = Database(database_url)
        async with database.reading() as tx:
            found = list((await tx.scalars(select(Invitation))).all())
        await database.dispose()
        return found

    return asyncio.run(read())


@pytest.mark.parametrize("dossier", ["   ", "", "000 00 01", "x" * 101, "hồ-sơ-1", "-1"])
def test_invite_refuses_what_is_not_a_dossier_reference(database_url: str, dossier: str) -> None:
    result = sipas("invite", "--service-point", POINT, "--dossier", dossier)
    assert result.exit_code == 2 and "a dossier reference is 1 to 100 characters" in result.output

    assert stored_invitations(database_url) == []


def test_invite_at_the_result_mints_an_invitation_of_that_stage(database_url: str) -> None:
    reception = fields(sipas("invite", "--service-point", POINT, "--dossier", DOSSIER))
    result = fields(
        sipas("invite", "--service-point", POINT, "--dossier", DOSSIER, "--stage", "result")
    )

    assert (reception["stage"], result["stage"]) == ("reception", "result")
    invitation = in_database(database_url, result["payload"])
    assert invitation is not None and invitation.stage == "result"
    # The unused reception invitation of the dossier gave way to it.
    replaced = in_database(database_url, reception["payload"])
    assert replaced is not None and replaced.expires_at <= invitation.created_at


@pytest.mark.parametrize("arguments", [["--stage", "pickup"], ["--stage", "result", "--counter"]])
def test_invite_refuses_a_wrong_stage_and_stores_nothing(
    database_url: str, arguments: list[str]
) -> None:
    result = CliRunner().invoke(cli, ["invite", "--service-point", POINT, *arguments])

    assert result.exit_code == 2
    assert "'pickup' is not one of 'reception', 'result'" in result.output or (
        "--stage" in result.output
    )

    assert stored_invitations(database_url) == []


def test_invite_counter_shows_the_static_poster_token(database_url: str) -> None:
    shown = fields(sipas("invite", "--service-point", POINT, "--counter"))
    assert shown["payload"] == counter_payload(TEST_SECRET, POINT)
    assert shown["short code"] == counter_short_code(TEST_SECRET, POINT)
    assert shown["link"] == f"https://t.me/{BOT}?start={shown['payload']}"


@pytest.mark.parametrize(
    ("code", "message"),
    [("HN-99999-01", "no service point 'HN-99999-01'"), (OTHER_POINT, "is closed")],
)
def test_invite_for_an_unknown_or_closed_counter_fails_clearly(
    database_url: str, code: str, message: str
) -> None:
    result = sipas("invite", "--service-point", code)
    assert result.exit_code == 1 and message in result.output


# --- sipas qr ------------------------------------------------------------------------------


def test_qr_writes_a_poster_whose_code_opens_the_counter(database_url: str, tmp_path: Path) -> None:
    out = tmp_path / "quay-1.png"
    result = sipas("qr", "--service-point", POINT, "--out", str(out), "--paper", "A5")
    assert result.exit_code == 0, result.output
    link = f"https://t.me/{BOT}?start={counter_payload(TEST_SECRET, POINT)}"
    image = Image.open(io.BytesIO(out.read_bytes()))
    assert [barcode.text for barcode in zxingcpp.read_barcodes(image)] == [link]


def test_with_a_public_url_the_posters_code_opens_the_counters_landing_page(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIPAS_PUBLIC_URL", "https://survey.example.gov.vn/")
    out = tmp_path / "quay-1.png"
    result = sipas("qr", "--service-point", POINT, "--out", str(out))
    assert result.exit_code == 0, result.output
    landing = f"https://survey.example.gov.vn/s/{counter_payload(TEST_SECRET, POINT)}"
    image = Image.open(io.BytesIO(out.read_bytes()))
    assert [barcode.text for barcode in zxingcpp.read_barcodes(image)] == [landing]
    shown = fields(sipas("invite", "--service-point", POINT, "--counter"))
    assert shown["page"] == landing
    assert shown["link"] == f"https://t.me/{BOT}?start={counter_payload(TEST_SECRET, POINT)}"


def test_qr_all_writes_one_poster_per_open_counter(database_url: str, tmp_path: Path) -> None:
    result = sipas("qr", "--all", "--out", str(tmp_path / "posters"), "--format", "svg")
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in (tmp_path / "posters").iterdir()) == [f"{POINT}.svg"]
    assert f"skipped {OTHER_POINT}: closed" in result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--service-point", POINT, "--out", "x.jpg"], 2, ".png, .svg or .pdf"),
        (["--service-point", "NOPE", "--out", "x.pdf"], 1, "no service point 'NOPE'"),
        (["--out", "x.pdf"], 2, "--service-point CODE or --all"),
        (["--all", "--out", "x.pdf"], 2, "a folder"),
    ],
)
def test_qr_wrong_calls_fail_clearly(
    database_url: str, args: list[str], code: int, message: str
) -> None:
    result = sipas("qr", *args)
    assert result.exit_code == code and message in result.output


# --- sipas kiosk ------------------------------------------------------------------------------


def test_kiosk_prints_a_url_once_list_never_and_revoke_ends_it(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIPAS_PUBLIC_URL", "https://survey.example.gov.vn")
    shown = fields(sipas("kiosk", "--service-point", POINT))
    kiosk_id, url = shown["kiosk"], shown["url"]
    token = url.removeprefix("https://survey.example.gov.vn/s/kiosk/")
    assert len(token) == 43

    def live() -> bool:
        async def look() -> bool:
            database = Database(database_url)
            async with database.reading() as tx:
                found = await live_kiosk(tx, TEST_SECRET, token)
            await database.dispose()
            return found is not None

        return asyncio.run(look())

    assert live()
    listed = sipas("kiosk", "list")
    assert kiosk_id in listed.stdout and POINT in listed.stdout and token not in listed.stdout
    revoked = sipas("kiosk", "revoke", kiosk_id)
    assert revoked.exit_code == 0 and f"revoked kiosk {kiosk_id} at {POINT}" in revoked.stdout
    assert not live()
    assert '"revoked_at": "20' in sipas("kiosk", "list", "--json").stdout


def test_without_a_public_url_the_kiosk_url_names_where_the_app_listens(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIPAS_HTTP_HOST", "10.0.0.5")
    assert fields(sipas("kiosk", "--service-point", POINT))["url"].startswith(
        "http://10.0.0.5:8080/s/kiosk/"
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 2, "give --service-point CODE"),
        (["--service-point", "NOPE"], 1, "no service point 'NOPE'"),
        (["--service-point", OTHER_POINT], 1, "is closed"),
        (["revoke", "nothere"], 1, "no kiosk 'nothere'"),
        (["--service-point", POINT, "list"], 2, "without a subcommand"),
    ],
)
def test_kiosk_wrong_calls_fail_clearly(
    database_url: str, args: list[str], code: int, message: str
) -> None:
    result = sipas("kiosk", *args)
    assert result.exit_code == code and message in result.output


# --- sipas apikey ------------------------------------------------------------------------------


def test_apikey_create_shows_the_key_once_list_never_and_revoke_ends_it(database_url: str) -> None:
    created = sipas("apikey", "create", "--name", "mot-cua-ba-dinh", "--units", "00004")
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("sipas_") and "scope: 00004" in created.stdout

    def verified() -> bool:
        async def check() -> bool:
            database = Database(database_url)
            async with database.transaction() as tx:
                found = await verify_api_key(tx, key, datetime.now(UTC))
            await database.dispose()
            return found is not None

        return asyncio.run(check())

    assert verified()
    listed = sipas("apikey", "list")
    assert "mot-cua-ba-dinh" in listed.stdout and key not in listed.stdout
    revoked = sipas("apikey", "revoke", "mot-cua-ba-dinh")
    assert revoked.exit_code == 0 and "revoked key 'mot-cua-ba-dinh'" in revoked.stdout
    assert not verified()
    assert '"revoked_at": "20' in sipas("apikey", "list", "--json").stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["create", "--name", "a"], 2, "--units CODE[,CODE…] or --all-units"),
        (["create", "--name", "a", "--units", "99999"], 1, "unknown unit or agency code(s): 99999"),
        (["revoke", "nobody"], 1, "no key named 'nobody'"),
    ],
)
def test_apikey_wrong_calls_fail_clearly(
    database_url: str, args: list[str], code: int, message: str
) -> None:
    result = sipas("apikey", *args)
    assert result.exit_code == code and message in result.output


def test_an_unscoped_key_needs_all_units_explicitly(database_url: str) -> None:
    created = sipas("apikey", "create", "--name", "so-noi-vu", "--all-units")
    assert created.exit_code == 0 and "scope: every unit" in created.stdout


def test_staff_codes_says_the_earlier_codes_no_longer_work(database_url: str) -> None:
    added = sipas("staff", "add", "--name", "lan", "--role", "viewer", "--units", "00004")
    assert added.exit_code == 0, added.output

    again = sipas("staff", "codes", "lan")

    assert again.exit_code == 0, again.output
    assert "codes issued for lan before these no longer work" in again.stdout
