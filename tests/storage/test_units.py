"""Units, agencies and service points: the sample, the CSV loaders' checks, lookups and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import cli
from storage.db import Database
from storage.models import AdminUnit, Agency, ServicePoint, UnitCrosswalk
from storage.units import (
    SAMPLE_DIR,
    UnitDataError,
    former_district_map,
    former_district_of,
    former_districts_of,
    get_service_point,
    import_official,
    list_service_points,
    list_units,
    load_crosswalk_csv,
    load_sample,
    load_units_csv,
    units_below,
)

HEADER = (
    "kind,code,name,full_name,name_en,level,unit_type,parent_code,unit_code,agency_code,"
    "agency_kind,valid_from,valid_to,active\n"
)
SMALL_FILE = HEADER + (
    "service_point,XA-00001-01,Quầy 1,,,,,,00001,XA-CN-00001,,,,\n"
    "agency,XA-CN-00001,Chi nhánh Một,,,,,,00001,,service_centre_branch,,,\n"
    "unit,00001,Một,Phường Một,Mot Ward,commune,Phường,99,,,,2025-07-01,,\n"
    "unit,99,Thử,Tỉnh Thử,,province,Tỉnh,,,,,2025-07-01,,\n"
)


async def count(database: Database, model: type[object]) -> int:
    async with database.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def table_counts(database: Database) -> tuple[int, int, int, int]:
    return (
        await count(database, AdminUnit),
        await count(database, Agency),
        await count(database, ServicePoint),
        await count(database, UnitCrosswalk),
    )


# --- The Hà Nội sample --------------------------------------------------------------------


async def test_sample_loads_the_city_its_units_former_districts_crosswalk_and_counters(
    database: Database,
) -> None:
    async with database.transaction() as session:
        report = await load_sample(session)
    assert report.units.added == 1 + 126 + 30
    assert report.crosswalk.added == 794
    async with database.reading() as session:
        provinces = await list_units(session, level="province")
        communes = await list_units(session, level="commune", parent_code="01")
        districts = await list_units(session, level="district")
        points = await list_service_points(session)
    assert [unit.code for unit in provinces] == ["01"]
    assert len(communes) == 126
    assert sum(unit.unit_type == "Phường" for unit in communes) == 51
    assert sum(unit.unit_type == "Xã" for unit in communes) == 75
    assert {str(unit.valid_from) for unit in communes} == {"2025-07-01"}
    assert len(districts) == 30
    assert {unit.parent_code for unit in districts} == {"01"}
    assert {str(unit.valid_to) for unit in districts} == {"2025-06-30"}
    assert await count(database, UnitCrosswalk) == 794
    assert len(points) >= 12
    assert all(item.point.is_sample for item in points)
    ward_points = [item for item in points if item.unit.code == "00004"]
    assert [item.point.code for item in ward_points] == [
        "HN-00004-01",
        "HN-00004-02",
        "HN-00004-03",
    ]
    # NĐ 118/2025: every xã/phường has its own service centre, so each has a counter.
    assert {item.unit.code for item in points} >= {unit.code for unit in communes}
    centre = next(item for item in points if item.unit.code == "00008")
    assert centre.point.code == "HN-00008-01" and centre.point.agency_code == "HN-TT-00008"


async def test_loading_the_sample_twice_changes_nothing(database: Database) -> None:
    async with database.transaction() as session:
        first = await load_sample(session)
    before = await table_counts(database)
    async with database.transaction() as session:
        second = await load_sample(session)
    assert second.changed == 0
    assert second.units.unchanged == first.units.added
    assert second.crosswalk.unchanged == 794
    assert await table_counts(database) == before


def test_the_data_licence_ships_with_the_sample() -> None:
    notice = (SAMPLE_DIR / "LICENSE-data.txt").read_text(encoding="utf-8")
    assert "Copyright (c) 2021 Thang Le Quoc" in notice
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in notice


# --- The units file -----------------------------------------------------------------------


async def test_a_file_with_several_errors_reports_each_with_its_line_and_writes_nothing(
    database: Database,
) -> None:
    data = HEADER + (
        "unit,99,Thử,,,province,Tỉnh,,,,,,,\n"  # 2: fine
        "unit,00001,Một,,,county,Phường,99,,,,,,\n"  # 3: bad level
        "unit,00002,Hai,,,commune,Phường,77,,,,,,\n"  # 4: unknown parent
        "unit,00001,Ba,,,commune,Phường,99,,,,31/12/2025,,\n"  # 5: bad date
        "unit,00005,Năm,,,commune,Phường,99,,,,,,\n"  # 6: fine
        "unit,00005,Năm lại,,,commune,Phường,99,,,,,,\n"  # 7: duplicate code
        "service_point,HN-X-01,Quầy,,,,,,55555,,,,,\n"  # 8: unknown unit
        "service_point,hn x,Quầy,,,,,,00005,NOPE,,,,maybe\n"  # 9: bad code, agency, active
        "agency,AG-1,Sở,,,,,,99,,ministry,,,\n"  # 10: bad agency kind
    )
    async with database.transaction() as session:
        with pytest.raises(UnitDataError) as caught:
            await load_units_csv(session, "units.csv", data.encode())
    messages = [str(problem) for problem in caught.value.problems]
    assert messages == [
        "units.csv:3: level: 'county' is not allowed (one of: province | district | commune)",
        "units.csv:4: parent_code: unknown unit '77' (a unit in this file or already loaded)",
        "units.csv:5: valid_from: '31/12/2025' is not a date (YYYY-MM-DD, e.g. 2025-07-01)",
        "units.csv:7: code: unit '00005' already on line 6 (each code once)",
        "units.csv:8: unit_code: unknown unit '55555' (a unit in this file or already loaded)",
        "units.csv:9: code: 'hn x' is not a code (capital letters A-Z, digits and '-', at most 32)",
        "units.csv:9: active: 'maybe' is not allowed (true or false)",
        "units.csv:10: agency_kind: 'ministry' is not allowed "
        "(one of: department | service_centre_branch | other)",
    ]
    assert await table_counts(database) == (0, 0, 0, 0)


async def test_a_file_whose_rows_refer_to_rows_defined_later_loads(database: Database) -> None:
    async with database.transaction() as session:
        report = await load_units_csv(session, "small.csv", SMALL_FILE.encode())
    assert (report.units.added, report.agencies.added, report.service_points.added) == (2, 1, 1)
    async with database.reading() as session:
        point = await get_service_point(session, "XA-00001-01")
        unit = await session.get(AdminUnit, "00001")
    assert point is not None and point.unit_code == "00001" and point.agency_code == "XA-CN-00001"
    assert point.active and not point.is_sample
    assert unit is not None and unit.parent_code == "99" and unit.full_name_en == "Mot Ward"


async def test_a_file_saved_with_semicolons_by_a_vietnamese_spreadsheet_loads_the_same(
    database: Database,
) -> None:
    semicolons = SMALL_FILE.replace(",", ";")
    async with database.transaction() as session:
        report = await load_units_csv(session, "excel-vi.csv", semicolons.encode())
    assert (report.units.added, report.agencies.added, report.service_points.added) == (2, 1, 1)


async def test_reloading_reports_unchanged_and_a_changed_row_as_updated(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await load_units_csv(session, "small.csv", SMALL_FILE.encode())
    async with database.transaction() as session:
        again = await load_units_csv(session, "small.csv", SMALL_FILE.encode())
    assert again.changed == 0
    assert (again.units.unchanged, again.agencies.unchanged, again.service_points.unchanged) == (
        2,
        1,
        1,
    )
    closed = SMALL_FILE.replace("XA-CN-00001,,,,\n", "XA-CN-00001,,,,false\n")
    async with database.transaction() as session:
        changed = await load_units_csv(session, "small.csv", closed.encode())
    assert changed.service_points.updated == 1
    assert changed.units.unchanged == 2
    async with database.reading() as session:
        point = await get_service_point(session, "XA-00001-01")
    assert point is not None and not point.active


async def test_rows_may_refer_to_rows_already_in_the_database(database: Database) -> None:
    async with database.transaction() as session:
        await load_units_csv(session, "small.csv", SMALL_FILE.encode())
    more = HEADER + "service_point,XA-00001-02,Quầy 2,,,,,,00001,XA-CN-00001,,,,\n"
    async with database.transaction() as session:
        report = await load_units_csv(session, "more.csv", more.encode())
    assert report.service_points.added == 1


async def test_codes_keep_leading_zeros_and_a_stripped_code_is_caught(database: Database) -> None:
    async with database.transaction() as session:
        await load_units_csv(session, "small.csv", SMALL_FILE.encode())
    async with database.reading() as session:
        codes = [unit.code for unit in await list_units(session)]
    assert codes == ["99", "00001"]
    stripped = HEADER + "unit,1,Một,,,commune,Phường,99,,,,,,\n"
    async with database.transaction() as session:
        with pytest.raises(UnitDataError) as caught:
            await load_units_csv(session, "excel.csv", stripped.encode())
    assert [str(problem) for problem in caught.value.problems] == [
        "excel.csv:2: code: '1' has 1 digit (a commune code has 5 digits, e.g. 00001; "
        "a spreadsheet may have dropped leading zeros)"
    ]


async def test_a_parent_must_sit_above_its_child(database: Database) -> None:
    data = HEADER + (
        "unit,99,Thử,,,province,Tỉnh,,,,,,,\n"
        "unit,00001,Một,,,commune,Phường,99,,,,,,\n"
        "unit,00002,Hai,,,commune,Phường,00001,,,,,,\n"
        "unit,98,Khác,,,province,Tỉnh,99,,,,,,\n"
    )
    async with database.transaction() as session:
        with pytest.raises(UnitDataError) as caught:
            await load_units_csv(session, "levels.csv", data.encode())
    assert [str(problem) for problem in caught.value.problems] == [
        "levels.csv:4: parent_code: '00001' is a commune, not above a commune "
        "(expected a province or district)",
        "levels.csv:5: parent_code: a province has no parent (leave it empty)",
    ]


async def test_the_header_is_checked_before_any_row(database: Database) -> None:
    data = "kind,code,nome,colour\nunit,99,Thử\n"
    async with database.transaction() as session:
        with pytest.raises(UnitDataError) as caught:
            await load_units_csv(session, "header.csv", data.encode())
    messages = [str(problem) for problem in caught.value.problems]
    assert messages[0].startswith("header.csv:1: nome: unknown column (expected some of: kind,")
    assert messages[1].startswith("header.csv:1: colour: unknown column")
    assert messages[2] == "header.csv:1: name: column missing from the header (add it)"


async def test_a_column_that_does_not_apply_to_the_kind_is_refused(database: Database) -> None:
    data = HEADER + "unit,99,Thử,,,province,Tỉnh,,,,department,,,\n"
    async with database.transaction() as session:
        with pytest.raises(UnitDataError) as caught:
            await load_units_csv(session, "kind.csv", data.encode())
    assert [str(problem) for problem in caught.value.problems] == [
        "kind.csv:2: agency_kind: does not apply to a unit (leave it empty)"
    ]


async def test_a_file_that_is_not_utf8_is_refused_with_its_line(database: Database) -> None:
    data = HEADER.encode() + b"unit,99,Th" + b"\xff" + b",,,province,T,,,,,,,\n"
    async with database.transaction() as session:
        with pytest.raises(UnitDataError) as caught:
            await load_units_csv(session, "latin.csv", data)
    assert [str(problem) for problem in caught.value.problems] == [
        "latin.csv:2: (file): not UTF-8 text (save the file as CSV UTF-8)"
    ]


# --- Official list and crosswalk ------------------------------------------------------------

OFFICIAL = (
    "level,code,name,full_name,full_name_en,unit_type,unit_type_en,parent_code\n"
    "province,01,Hà Nội,Thành phố Hà Nội,Hanoi City,Thành phố,City,\n"
    "province,04,Cao Bằng,Tỉnh Cao Bằng,Cao Bang Province,Tỉnh,Province,\n"
    "commune,00004,Ba Đình,Phường Ba Đình,Ba Dinh Ward,Phường,Ward,01\n"
    "commune,01273,Thục Phán,Phường Thục Phán,Thuc Phan Ward,Phường,Ward,04\n"
    "commune,00008,Ngọc Hà,Phường Ngọc Hà,Ngoc Ha Ward,Phường,Ward,01\n"
)


async def test_import_official_loads_one_province_and_its_communes(database: Database) -> None:
    async with database.transaction() as session:
        report = await import_official(session, "vn.csv", OFFICIAL.encode(), province="01")
    assert report.units.added == 3
    async with database.reading() as session:
        units = await list_units(session)
    assert [(unit.code, unit.level, unit.parent_code) for unit in units] == [
        ("01", "province", None),
        ("00004", "commune", "01"),
        ("00008", "commune", "01"),
    ]
    assert units[1].full_name_en == "Ba Dinh Ward"
    async with database.transaction() as session:
        again = await import_official(session, "vn.csv", OFFICIAL.encode(), province="01")
    assert again.changed == 0


async def test_import_official_reports_every_problem_of_the_province(database: Database) -> None:
    bad = OFFICIAL.replace("commune,00008,Ngọc Hà", "ward,00008,Ngọc Hà").replace(
        "commune,00004,Ba Đình,Phường Ba Đình,Ba Dinh Ward,Phường", "commune,4,Ba Đình,,,"
    )
    async with database.transaction() as session:
        with pytest.raises(UnitDataError) as caught:
            await import_official(session, "vn.csv", bad.encode(), province="01")
        with pytest.raises(UnitDataError) as missing:
            await import_official(session, "vn.csv", OFFICIAL.encode(), province="93")
    assert [str(problem) for problem in caught.value.problems] == [
        "vn.csv:4: code: '4' has 1 digit (a commune code has 5 digits, e.g. 00001; "
        "a spreadsheet may have dropped leading zeros)",
        "vn.csv:4: unit_type: empty (required)",
        "vn.csv:6: level: 'ward' is not allowed (province | commune)",
    ]
    assert [str(problem) for problem in missing.value.problems] == [
        "vn.csv: code: no row for province '93' (check --province)"
    ]
    assert await count(database, AdminUnit) == 0


async def test_crosswalk_rows_need_loaded_units_and_districts(database: Database) -> None:
    async with database.transaction() as session:
        await import_official(session, "vn.csv", OFFICIAL.encode(), province="01")
    crosswalk = (
        "new_code,old_commune_code,old_commune_name,old_district_code,partial\n"
        "00004,00004,Phường Trúc Bạch,001,false\n"
        "00004,00004,Phường Trúc Bạch,001,false\n"
        "00009,00001,Phường Phúc Xá,001,maybe\n"
    )
    async with database.transaction() as session:
        with pytest.raises(UnitDataError) as caught:
            await load_crosswalk_csv(session, "cw.csv", crosswalk.encode())
    assert [str(problem) for problem in caught.value.problems] == [
        "cw.csv:2: old_district_code: '001' is not a loaded district (load it first)",
        "cw.csv:3: old_district_code: '001' is not a loaded district (load it first)",
        "cw.csv:4: partial: 'maybe' is not allowed (true or false)",
        "cw.csv:4: new_code: '00009' is not a loaded commune-level unit",
        "cw.csv:4: old_district_code: '001' is not a loaded district (load it first)",
    ]


# --- Lookups ----------------------------------------------------------------------------------


async def test_units_below_a_unit_is_the_unit_and_everything_under_it(database: Database) -> None:
    async with database.transaction() as session:
        await load_sample(session)
    async with database.reading() as session:
        city = await units_below(session, "01")
        ward = await units_below(session, "00004")
        district = await units_below(session, "001")
        unknown = await units_below(session, "77")
        in_ba_dinh = await list_service_points(session, within="00004")
        in_city = await list_service_points(session, within="01")
        everywhere = await list_service_points(session)
    assert len(city) == 1 + 126 + 30
    assert "00004" in city and "01" in city
    assert ward == {"00004"}
    assert district == {"001"}
    assert unknown == set()
    assert {item.point.code for item in in_ba_dinh} == {"HN-00004-01", "HN-00004-02", "HN-00004-03"}
    assert len(in_city) == len(everywhere)


async def test_a_current_unit_maps_to_the_former_district_that_gave_it_most(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await load_sample(session)
    async with database.reading() as session:
        ba_dinh = await former_district_of(session, "00004")
        tied = await former_districts_of(session, "00283")
        tied_main = await former_district_of(session, "00283")
        nowhere = await former_district_of(session, "01")
        mapping = await former_district_map(session)
    assert ba_dinh == "001"  # Phường Ba Đình is made of old Quận Ba Đình communes
    # 00283 took two old communes each from Hai Bà Trưng (007) and Hoàng Mai (008).
    assert [(share.district_code, share.old_communes) for share in tied] == [
        ("007", 2),
        ("008", 2),
    ]
    assert tied_main == "007"
    assert nowhere is None
    assert len(mapping) == 126
    assert mapping["00004"] == "001"
    assert mapping["00376"] == "016"  # Xã Sóc Sơn ← Huyện Sóc Sơn
    assert set(mapping.values()) <= {f"{code}" for code in (await _district_codes(database))}


async def _district_codes(database: Database) -> set[str]:
    async with database.reading() as session:
        return {unit.code for unit in await list_units(session, level="district")}


# --- CLI ----------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("SIPAS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SIPAS_SECRET_KEY", "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz")
    monkeypatch.setenv("SIPAS_LOG_LEVEL", "WARNING")
    return tmp_path


def test_cli_loads_a_file_then_reports_it_unchanged(cli_env: Path) -> None:
    path = cli_env / "units.csv"
    path.write_text(SMALL_FILE, encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(cli, ["units", "load", str(path)])
    assert first.exit_code == 0, first.output
    assert "units           2 added, 0 updated, 0 unchanged" in first.output
    second = runner.invoke(cli, ["units", "load", str(path)])
    assert second.exit_code == 0, second.output
    assert "units           0 added, 0 updated, 2 unchanged" in second.output
    assert "service points  0 added, 0 updated, 1 unchanged" in second.output


def test_cli_reports_every_problem_and_exits_non_zero(cli_env: Path) -> None:
    path = cli_env / "bad.csv"
    path.write_text(
        HEADER + "unit,00001,Một,,,commune,Phường,99,,,,,,\nunit,99,Thử,,,state,Tỉnh,,,,,,,\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["units", "load", str(path)])
    assert result.exit_code == 1
    assert f"{path}:2: parent_code: unknown unit '99'" in result.output
    assert f"{path}:3: level: 'state' is not allowed" in result.output
    assert "2 problems in" in result.output and "nothing was written" in result.output
    listing = CliRunner().invoke(cli, ["units", "list", "--json"])
    assert json.loads(listing.output) == []


def test_cli_sample_list_and_points_as_json(cli_env: Path) -> None:
    runner = CliRunner()
    dry = runner.invoke(cli, ["units", "load", "--sample", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing was written" in dry.output
    assert json.loads(runner.invoke(cli, ["units", "list", "--json"]).output) == []
    loaded = runner.invoke(cli, ["units", "load", "--sample"])
    assert loaded.exit_code == 0, loaded.output
    assert "crosswalk       794 added" in loaded.output
    again = runner.invoke(cli, ["units", "load", "--sample"])
    assert "crosswalk       0 added, 0 updated, 794 unchanged" in again.output

    provinces = json.loads(
        runner.invoke(cli, ["units", "list", "--level", "province", "--json"]).output
    )
    assert provinces == [
        {
            "code": "01",
            "level": "province",
            "name": "Hà Nội",
            "full_name": "Thành phố Hà Nội",
            "full_name_en": "Hanoi City",
            "unit_type": "Thành phố",
            "parent_code": None,
            "valid_from": "2025-07-01",
            "valid_to": None,
            "is_sample": True,
        }
    ]
    table = runner.invoke(cli, ["units", "list", "--parent", "01"])
    assert table.exit_code == 0, table.output
    assert "00004" in table.output and "156 units" in table.output
    points = json.loads(runner.invoke(cli, ["units", "points", "--unit", "00004", "--json"]).output)
    assert [point["code"] for point in points] == ["HN-00004-01", "HN-00004-02", "HN-00004-03"]
    assert set(points[0]) == {
        "code",
        "name",
        "name_en",
        "unit_code",
        "unit_name",
        "agency_code",
        "agency_name",
        "active",
        "is_sample",
    }
    assert points[0]["unit_code"] == "00004" and points[0]["agency_code"] == "HN-CN-00004"


def test_cli_load_needs_a_file_or_the_sample(cli_env: Path) -> None:
    result = CliRunner().invoke(cli, ["units", "load"])
    assert result.exit_code == 2
    assert "give either a FILE or --sample" in result.output


def test_cli_import_official(cli_env: Path) -> None:
    path = cli_env / "vn.csv"
    path.write_text(OFFICIAL, encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["units", "import-official", str(path), "--province", "04"])
    assert result.exit_code == 0, result.output
    units = json.loads(runner.invoke(cli, ["units", "list", "--json"]).output)
    assert [unit["code"] for unit in units] == ["04", "01273"]
    bad = runner.invoke(cli, ["units", "import-official", str(path), "--province", "1"])
    assert bad.exit_code == 2 and "not a province code" in bad.output
