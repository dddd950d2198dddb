"""The procedure catalogue and what a rating is about, from the command line: `sipas procedures
load|list`, and `sipas invite --procedure --authority --submitted-via`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from bot.cli import cli
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Agency, Invitation, Procedure
from tests.conftest import TEST_SECRET
from tests.hanoi import CITY
from tests.survey_driver import POINT, add_counters

HEADER = "code,name,field,authority_level,default_authority\n"
CATALOGUE = (
    HEADER
    + "1.001193,Đăng ký khai sinh,Hộ tịch,commune,\n"
    + "1.001022,Cấp Phiếu lý lịch tư pháp,Lý lịch tư pháp,province,HN-STP\n"
)


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Hà Nội's Phường Ba Đình with its counters (no agency), and the Sở Tư pháp."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'sipas.db'}"
    monkeypatch.setenv("SIPAS_DATABASE_URL", url)
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIPAS_LOG_LEVEL", "WARNING")

    async def seed() -> None:
        await upgrade(url)
        database = Database(url)
        await add_counters(database)
        async with database.transaction() as tx:
            tx.add(Agency(code="HN-STP", name="Sở Tư pháp", kind="department", unit_code=CITY))
        await database.dispose()

    asyncio.run(seed())
    return url


def sipas(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def stored(url: str, model: type) -> list[object]:
    async def look() -> list[object]:
        database = Database(url)
        async with database.reading() as tx:
            rows: list[object] = list((await tx.scalars(select(model))).all())
        await database.dispose()
        return rows

    return asyncio.run(look())


def catalogue(tmp_path: Path, text: str = CATALOGUE) -> str:
    path = tmp_path / "procedures.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_catalogue_is_loaded_and_listed(database_url: str, tmp_path: Path) -> None:
    loaded = sipas("procedures", "load", catalogue(tmp_path))
    assert loaded.exit_code == 0, loaded.output
    assert "procedures      2 added, 0 updated, 0 unchanged" in loaded.output
    again = sipas("procedures", "load", catalogue(tmp_path))
    assert "procedures      0 added, 0 updated, 2 unchanged" in again.output

    listed = json.loads(sipas("procedures", "list", "--json").output)
    assert [(row["code"], row["field"], row["default_authority"]) for row in listed] == [
        ("1.001193", "Hộ tịch", None),
        ("1.001022", "Lý lịch tư pháp", "HN-STP"),
    ]


def test_a_bad_catalogue_names_every_problem_and_loads_nothing(
    database_url: str, tmp_path: Path
) -> None:
    path = catalogue(
        tmp_path,
        HEADER
        + "1.001193,Đăng ký khai sinh,Hộ tịch,ward,\n"
        + "1.001022,Cấp Phiếu lý lịch tư pháp,Lý lịch tư pháp,province,HN-NOWHERE\n"
        + "1.001193,Đăng ký khai sinh,Hộ tịch,commune,\n",
    )
    refused = sipas("procedures", "load", path)

    assert refused.exit_code == 1
    lines = refused.output.strip().splitlines()
    assert lines[:2] == [
        f"{path}:2: authority_level: 'ward' is not allowed (one of: province | commune)",
        f"{path}:3: default_authority: unknown authority 'HN-NOWHERE' (the code of a loaded "
        "agency or unit; load the units first)",
    ]
    assert stored(database_url, Procedure) == []


def test_invite_carries_the_procedure_and_the_catalogues_authority(
    database_url: str, tmp_path: Path
) -> None:
    sipas("procedures", "load", catalogue(tmp_path))
    minted = sipas(
        "invite", "--service-point", POINT, "--procedure", "1.001022", "--submitted-via", "post"
    )
    assert minted.exit_code == 0, minted.output
    assert "authority    HN-STP, procedure 1.001022 (post)" in minted.output
    commune = sipas("invite", "--service-point", POINT, "--procedure", "1.001193", "--json")
    assert json.loads(commune.output)["authority"] == "00004"  # the counter's ward
    plain = sipas("invite", "--service-point", POINT, "--json")
    assert json.loads(plain.output)["authority"] == "00004"  # a counter without an agency

    invitations = stored(database_url, Invitation)
    assert sorted(
        (row.procedure_code or "", row.authority_code, row.submitted_via)  # type: ignore[attr-defined]
        for row in invitations
    ) == [("", "00004", "direct"), ("1.001022", "HN-STP", "post"), ("1.001193", "00004", "direct")]


def test_invite_refuses_an_unknown_authority_or_procedure_one_line_each(
    database_url: str, tmp_path: Path
) -> None:
    sipas("procedures", "load", catalogue(tmp_path))
    refused = sipas(
        "invite", "--service-point", POINT, "--procedure", "9.999", "--authority", "HN-NOWHERE"
    )

    assert refused.exit_code == 1
    lines = refused.output.strip().splitlines()
    assert lines[0].startswith("procedure_code: unknown procedure '9.999'")
    assert lines[1].startswith("authority: unknown authority 'HN-NOWHERE'")
    assert stored(database_url, Invitation) == []
