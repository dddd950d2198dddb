"""Importing responses collected on paper or kiosks, as a specification of the file format."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook
from sqlalchemy import func, select

from bot.cli import cli
from handlers.response_import import (
    ImportReport,
    ResponseImportError,
    import_responses,
    template_columns,
)
from questionnaires import load_bundled
from storage.db import Database
from storage.models import Answer, DirtyDay, Response, SurveySession
from storage.privacy import PHONE_MARK, keyed_hash
from tests.conftest import TEST_SECRET
from tests.survey_driver import OTHER_POINT, POINT, ZONE, add_counters

QUESTIONNAIRE = load_bundled().asking()  # as deployed: no sensitive item unless switched on
PROFILE_COLUMNS = {
    "thong_tin",
    "gioi_tinh",
    "do_tuoi",
    "trinh_do_hoc_van",
    "nghe_nghiep",
    "noi_sinh_song",
}
HEADER = template_columns(QUESTIONNAIRE)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SATISFACTION = [item.code for item in QUESTIONNAIRE.scale_items()]


def row(
    external_id: str,
    service_point: str = POINT,
    completed_at: str = "2026-11-19T09:15:00+07:00",
    respondent_type: str = "citizen",
    **answers: str,
) -> list[str]:
    """A complete, valid row: every always-asked scale item 4, screeners and gate "no"."""
    values = {"ket_qua_nhan": "no", "pakn_da_tung": "no", "uu_tien": "no"}
    values.update({code: "4" for code in SATISFACTION if code.isdigit() and int(code) <= 27})
    values.update(answers)
    fixed = [external_id, service_point, completed_at, respondent_type]
    return fixed + [values.get(code, "") for code in HEADER[4:]]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


async def run_import(database: Database, path: Path, **options: object) -> ImportReport:
    return await import_responses(
        database,
        QUESTIONNAIRE,
        path,
        secret=TEST_SECRET,
        zone=ZONE,
        now=NOW,
        **options,  # type: ignore[arg-type]
    )


async def count(database: Database, model: type) -> int:
    async with database.reading() as tx:
        return (await tx.execute(select(func.count()).select_from(model))).scalar_one()


def problems_of(error: pytest.ExceptionInfo[ResponseImportError]) -> list[str]:
    return [str(problem) for problem in error.value.problems]


@pytest.fixture
async def counters(database: Database) -> Database:
    await add_counters(database)
    return database


# --- a good file ------------------------------------------------------------------------------


async def test_a_good_file_becomes_completed_sessions_answers_and_responses(
    counters: Database, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "paper.csv",
        [
            row("P-1", ket_qua_nhan="yes", **{"28": "5", "29": "5", "30": "3"}),
            # 20:30 UTC is already the next day in Hà Nội: it counts on 2026-11-19 local.
            row("P-2", OTHER_POINT, "2026-11-18T20:30:00Z", "organisation", **{"15": ""}),
            row("P-3", completed_at="2026-11-19T10:00:00+07:00", y_kien_khac="Gọi 0912 345 678"),
        ],
    )
    report = await run_import(counters, path)

    assert (report.rows, report.added, report.already_present) == (3, 3, 0)
    assert report.days == (date(2026, 11, 19),)
    async with counters.reading() as tx:
        responses = {r.external_id: r for r in (await tx.scalars(select(Response))).all()}
        sessions = (await tx.scalars(select(SurveySession))).all()
        answers = {
            (session_id, code): value
            for session_id, code, value in (
                await tx.execute(select(Answer.session_id, Answer.item_code, Answer.value))
            ).tuples()
        }
        dirty = (await tx.scalars(select(DirtyDay.day))).all()
    assert set(responses) == {"P-1", "P-2", "P-3"}
    first = responses["P-1"]
    assert first.channel == "import" and first.service_point_code == POINT
    assert first.respondent_type == "citizen" and not first.simulated
    assert first.completed_at == datetime(2026, 11, 19, 2, 15, tzinfo=UTC)
    assert first.reporting_day == date(2026, 11, 19)
    assert first.respondent_key is None  # no chat: only the session keeps a pseudonym
    assert first.duration_seconds is None  # paper has no timing
    # Quality facts: 13 items "4" and 28–30 answered; no timing, so no gap to judge speed by.
    assert (first.scale_answers, first.uniform_value, first.median_gap_seconds) == (16, None, None)
    assert (responses["P-3"].scale_answers, responses["P-3"].uniform_value) == (13, "4")
    assert responses["P-2"].respondent_type == "organisation"
    assert responses["P-2"].reporting_day == date(2026, 11, 19)
    assert {session.status for session in sessions} == {"completed"}
    assert {session.channel for session in sessions} == {"import"}
    keys = {session.id: session.respondent_key for session in sessions}
    assert keys[first.session_id] == keyed_hash(TEST_SECRET, "import", "P-1")
    assert answers[(first.session_id, "28")] == "5"
    assert answers[(first.session_id, "respondent_type")] == "citizen"
    second = responses["P-2"].session_id
    assert answers[(second, "15")] is None  # an empty cell of an asked item: skipped
    assert (second, "28") not in answers  # hidden by the skip logic: not asked at all
    comment = answers[(responses["P-3"].session_id, "y_kien_khac")]
    assert comment == f"Gọi {PHONE_MARK}"
    assert dirty == [date(2026, 11, 19)]


async def test_importing_the_same_file_again_adds_nothing(
    counters: Database, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "kiosk.csv", [row("K-1"), row("K-2")])
    await run_import(counters, path)
    write_csv(path, [row("K-1"), row("K-2"), row("K-3")])  # the kiosk's export grew
    report = await run_import(counters, path)
    assert (report.rows, report.added, report.already_present) == (3, 1, 2)
    assert await count(counters, Response) == 3
    assert await count(counters, SurveySession) == 3


async def test_an_xlsx_workbook_imports_like_csv(counters: Database, tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER)
    cells: list[object] = list(row("X-1"))
    cells[HEADER.index("15")] = 5  # typed as a number in the spreadsheet
    sheet.append(cells)
    sheet.append([None] * len(HEADER))  # trailing blank rows are common and harmless
    path = tmp_path / "paper.xlsx"
    workbook.save(path)

    report = await run_import(counters, path)
    assert report.added == 1
    async with counters.reading() as tx:
        value = await tx.scalar(select(Answer.value).where(Answer.item_code == "15"))
    assert value == "5"


async def test_long_comments_are_cut_to_the_items_limit(counters: Database, tmp_path: Path) -> None:
    limit = QUESTIONNAIRE.item("y_kien_khac").max_length
    path = write_csv(tmp_path / "long.csv", [row("L-1", y_kien_khac="rất tốt " * 500)])
    await run_import(counters, path)
    async with counters.reading() as tx:
        comment = await tx.scalar(select(Answer.value).where(Answer.item_code == "y_kien_khac"))
    assert comment is not None and 0 < len(comment) <= limit


async def test_a_dry_run_counts_but_writes_nothing(counters: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "paper.csv", [row("D-1")])
    report = await run_import(counters, path, dry_run=True)
    assert (report.added, report.dry_run) == (1, True)
    assert await count(counters, Response) == 0


# --- bad files ----------------------------------------------------------------------------------


async def test_every_problem_is_reported_with_row_and_column_and_nothing_is_imported(
    counters: Database, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "bad.csv",
        [
            row("B-1"),
            row("B-2", "HN-NOWHERE"),
            row("B-3", **{"16": "6"}),
            row("B-4", completed_at="2026-11-19 09:15"),
        ],
    )
    with pytest.raises(ResponseImportError) as error:
        await run_import(counters, path)
    assert problems_of(error) == [
        f"{path}:3: service_point: unknown service point 'HN-NOWHERE' "
        "(expected a code listed by `sipas units points`)",
        f"{path}:4: 16: '6' is not an option (expected one of 1, 2, 3, 4, 5)",
        f"{path}:5: completed_at: '2026-11-19 09:15' has no UTC offset "
        "(expected ISO 8601 with offset, e.g. 2026-11-20T09:15:00+07:00; "
        "in a spreadsheet, type it as text)",
    ]
    assert await count(counters, Response) == 0
    assert await count(counters, SurveySession) == 0


async def test_an_answer_the_skip_logic_hides_is_an_error(
    counters: Database, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "skip.csv", [row("S-1", ket_qua_nhan="no", **{"28": "4"})])
    with pytest.raises(ResponseImportError) as error:
        await run_import(counters, path)
    assert problems_of(error) == [
        f"{path}:2: 28: answered, but the skip logic hides this item "
        "(asked only if ket_qua_nhan = yes; leave it empty)"
    ]


async def test_a_required_item_left_empty_is_an_error(counters: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "empty.csv", [row("R-1", pakn_da_tung="")])
    with pytest.raises(ResponseImportError) as error:
        await run_import(counters, path)
    assert problems_of(error) == [
        f"{path}:2: pakn_da_tung: required, but empty (expected one of yes, no)"
    ]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [row("D-1"), row("D-1")],
            "3: external_id: 'D-1' already used in row 2 (expected unique ids)",
        ),
        ([row("")], "2: external_id: empty (expected the response's id, unique)"),
        (
            [row("T-1", respondent_type="tourist")],
            "2: respondent_type: 'tourist' is not valid (expected one of citizen, organisation)",
        ),
        (
            [row("F-1", completed_at="2027-01-01T09:00:00+07:00")],
            "2: completed_at: '2027-01-01T09:00:00+07:00' is in the future (expected a past time)",
        ),
        (
            [row("N-1", completed_at="yesterday")],
            "2: completed_at: 'yesterday' is not a date and time "
            "(expected ISO 8601 with offset, e.g. 2026-11-20T09:15:00+07:00)",
        ),
    ],
)
async def test_bad_fixed_columns(
    counters: Database, tmp_path: Path, rows: list[list[str]], expected: str
) -> None:
    path = write_csv(tmp_path / "rows.csv", rows)
    with pytest.raises(ResponseImportError) as error:
        await run_import(counters, path)
    assert problems_of(error) == [f"{path}:{expected}"]


async def test_an_unknown_or_missing_column_is_an_error_of_the_header(
    counters: Database, tmp_path: Path
) -> None:
    header = [name for name in HEADER if name != "completed_at"] + ["so_dien_thoai"]
    path = write_csv(tmp_path / "header.csv", [], header=header)
    with pytest.raises(ResponseImportError) as error:
        await run_import(counters, path)
    problems = problems_of(error)
    assert len(problems) == 2
    assert problems[0].startswith(f"{path}:1: so_dien_thoai: unknown column")
    assert (
        problems[1] == f"{path}:1: completed_at: required column missing from the header (add it)"
    )


async def test_optional_item_columns_may_be_left_out(counters: Database, tmp_path: Path) -> None:
    header = HEADER[: HEADER.index("gioi_tinh")]  # a kiosk that does not ask the profile
    path = write_csv(tmp_path / "short.csv", [row("O-1")[: len(header)]], header=header)
    assert (await run_import(counters, path)).added == 1
    async with counters.reading() as tx:
        codes = set((await tx.scalars(select(Answer.item_code))).all())
    assert "gioi_tinh" not in codes and "15" in codes


async def test_a_file_of_another_kind_is_refused(counters: Database, tmp_path: Path) -> None:
    path = tmp_path / "answers.ods"
    path.write_bytes(b"not really")
    with pytest.raises(ResponseImportError) as error:
        await run_import(counters, path)
    assert "not a .csv or .xlsx file" in problems_of(error)[0]


async def test_a_csv_not_in_utf8_is_refused(counters: Database, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes((",".join(HEADER) + "\n").encode() + "Hà Nội".encode("utf-16"))
    with pytest.raises(ResponseImportError) as error:
        await run_import(counters, path)
    assert "not UTF-8 text" in problems_of(error)[0]


# --- the template -----------------------------------------------------------------------------


def test_the_template_header_is_the_fixed_columns_then_every_item_in_order() -> None:
    items = [item.code for item in QUESTIONNAIRE.items if item.code != "respondent_type"]
    assert template_columns(QUESTIONNAIRE) == [
        "external_id",
        "service_point",
        "completed_at",
        "respondent_type",
        "procedure_code",
        "authority",
        "submitted_via",
        *items,
    ]
    assert HEADER[7:11] == ["15", "16", "17", "18"]


# --- what a rating is about -------------------------------------------------------------------


def attributed(external_id: str, procedure: str, authority: str, via: str) -> list[str]:
    cells = row(external_id)
    cells[4:7] = [procedure, authority, via]
    return cells


async def test_a_row_names_the_procedure_authority_and_how_it_was_submitted(
    counters: Database, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "attributed.csv",
        [attributed("p-1", "1.001193", "01", "online"), row("p-2")],
    )
    await run_import(counters, path)
    async with counters.reading() as tx:
        stored = (
            await tx.execute(
                select(
                    Response.external_id,
                    Response.procedure_code,
                    Response.authority_code,
                    Response.submitted_via,
                ).order_by(Response.external_id)
            )
        ).all()
    # Without a column's value, the counter's authority (its unit: this counter has no
    # agency) and a dossier handed in at the counter.
    assert [tuple(item) for item in stored] == [
        ("p-1", "1.001193", "01", "online"),
        ("p-2", None, "00004", "direct"),
    ]


async def test_an_unknown_authority_or_a_bad_submission_refuses_the_file(
    counters: Database, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "bad.csv",
        [row("b-1"), attributed("b-2", "1.001193", "HN-NOWHERE", "fax")],
    )
    with pytest.raises(ResponseImportError) as error:
        await run_import(counters, path)
    found = problems_of(error)
    assert found[0].startswith(f"{path}:3: authority: unknown authority 'HN-NOWHERE'")
    assert found[1].startswith(f"{path}:3: submitted_via: 'fax' is not allowed")
    assert await count(counters, Response) == 0


# --- the command ----------------------------------------------------------------------------


def test_the_cli_imports_reports_counts_and_refuses_a_bad_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIPAS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    runner = CliRunner()
    assert runner.invoke(cli, ["units", "load", "--sample"]).exit_code == 0
    # Where the profile is not asked, the template has no column for it.
    monkeypatch.setenv("SIPAS_ASK_PROFILE", "false")
    unasked = runner.invoke(cli, ["responses", "template"]).stdout.strip().split(",")
    assert unasked == [code for code in HEADER if code not in PROFILE_COLUMNS]

    monkeypatch.delenv("SIPAS_ASK_PROFILE")  # asked by default
    template = runner.invoke(cli, ["responses", "template"])
    assert template.exit_code == 0
    assert template.stdout.strip() == ",".join(HEADER)

    good = write_csv(tmp_path / "good.csv", [row("C-1", "HN-SNV-01"), row("C-2", "HN-STP-01")])
    first = runner.invoke(cli, ["responses", "import", str(good)])
    assert first.exit_code == 0, first.output
    assert "2 rows, 2 added, 0 already present" in first.stdout
    again = runner.invoke(cli, ["responses", "import", str(good)])
    assert "2 rows, 0 added, 2 already present" in again.stdout

    bad = write_csv(tmp_path / "bad.csv", [row("C-3", "HN-SNV-01", **{"15": "9"})])
    refused = runner.invoke(cli, ["responses", "import", str(bad)])
    assert refused.exit_code == 1
    assert f"{bad}:2: 15: '9' is not an option" in refused.stderr
    assert "nothing was imported" in refused.stderr


def test_ethnicity_is_a_column_only_where_the_deployment_asks_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIPAS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIPAS_ASK_PROFILE", "true")  # ethnicity is part of the profile
    runner = CliRunner()
    assert runner.invoke(cli, ["units", "load", "--sample"]).exit_code == 0
    asked = template_columns(load_bundled())
    with_ethnicity = write_csv(
        tmp_path / "with-ethnicity.csv",
        [[*row("E-1", "HN-SNV-01")[:-1], "kinh", ""]],
        header=[*HEADER[:-1], "dan_toc", HEADER[-1]],
    )

    assert "dan_toc" not in runner.invoke(cli, ["responses", "template"]).stdout
    refused = runner.invoke(cli, ["responses", "import", str(with_ethnicity)])
    assert refused.exit_code == 1 and "dan_toc: unknown column" in refused.stderr

    monkeypatch.setenv("SIPAS_SENSITIVE_ITEMS", "dan_toc")
    assert runner.invoke(cli, ["responses", "template"]).stdout.strip() == ",".join(asked)
    imported = runner.invoke(cli, ["responses", "import", str(with_ethnicity)])
    assert imported.exit_code == 0, imported.output
