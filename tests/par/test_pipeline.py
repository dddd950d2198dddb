"""A year of the PAR Index end to end on both backends: open, self-assessment, appraisal, survey
criteria, results — against figures worked out by hand (see tests/par/scorecards.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import update

from analytics.days import parse_period
from analytics.method import load_method
from analytics.publish import export_period
from analytics.query import ReportQuery
from par.appraisal import appraise, appraise_file, appraiser
from par.assessment import EntryProblem, ParError, ParFileError, load_assessment, open_assessment
from par.criteria import load_criteria, parse_criteria
from par.export import FORMATS, write_par_export
from par.publish import ParResults, par_results
from par.results import in_scope
from par.self_assessment import import_self_assessment, template_rows, unit_template
from storage.db import Database
from storage.models import ParScorecard
from storage.par import appraisals, self_scores
from storage.staff import add_staff, scope_of
from tests.analytics.survey_rows import SIPAS_LAYOUT
from tests.clock import built_at_two_instants
from tests.conftest import TEST_SECRET
from tests.formulas import FORMULA, cell_texts, live_cells
from tests.par.scorecards import SCHEME, scheme_file, units_and_responses

METHOD = load_method()
NOW = datetime(2027, 1, 10, 2, 0, tzinfo=UTC)
HEADER = "Mã đơn vị,Mã tiêu chí,Điểm tự chấm,Tài liệu kiểm chứng,Ghi chú\n"


@pytest.fixture
async def year(database: Database, tmp_path: Path) -> Database:
    """The test units with their responses, and 2026 opened with the test scheme."""
    await units_and_responses(database)
    await open_assessment(database, load_criteria(scheme_file(tmp_path)), NOW)
    return database


async def results(database: Database) -> ParResults:
    return await par_results(database, layout=SIPAS_LAYOUT, method=METHOD, min_cell_size=10)


async def admin(database: Database, name: str = "council", role: str = "admin") -> None:
    async with database.transaction() as session:
        await add_staff(
            session,
            TEST_SECRET,
            name=name,
            role=role,
            unit_codes=[] if role == "admin" else ["00004"],
            now=NOW,
        )


def written(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_opening_a_year_gives_every_sở_and_xã_phường_a_scorecard_once(
    database: Database, tmp_path: Path
) -> None:
    await units_and_responses(database)
    scheme = load_criteria(scheme_file(tmp_path))
    opened = await open_assessment(database, scheme, NOW)
    assert (opened.added, opened.already_open) == (4, 0)
    assert opened.added_by_tree == {"department": 1, "commune": 3}
    again = await open_assessment(database, scheme, NOW + timedelta(days=1))
    assert (again.added, again.already_open) == (0, 4)
    assessment = await load_assessment(database)
    assert [(card.tree, card.unit_code) for card in assessment.scorecards] == [
        ("commune", "00004"),
        ("commune", "00070"),
        ("commune", "00082"),
        ("department", "HN-STP"),
    ]
    other = parse_criteria(SCHEME.replace("Bộ tiêu chí thử", "Bộ tiêu chí khác"))
    with pytest.raises(ParError, match="already open with test-2026"):
        await open_assessment(database, other, NOW)


async def test_a_broken_self_assessment_is_refused_with_its_rows_and_nothing_is_stored(
    year: Database, tmp_path: Path
) -> None:
    broken = written(
        tmp_path,
        "00004.csv",
        HEADER
        + "00004,A1,3,QĐ 12/QĐ-UBND,\n"
        + "00004,A1,2,QĐ 13/QĐ-UBND,lần hai\n"  # row 3: the same criterion again
        + "00004,A2,5,,\n"  # row 4: filled from the survey
        + "00004,B1,6.5,,\n"  # row 5: above its 6 points
        + '00070,A1,"1,5",,\n'  # row 6: evidence required
        + "99999,A1,1,x,\n"  # row 7: no such unit
        + "00070,B1,nhiều,,\n",  # row 8: not a number
    )
    with pytest.raises(ParFileError) as refused:
        await import_self_assessment(year, broken, now=NOW)
    assert [str(problem) for problem in refused.value.problems] == [
        f"{broken}:3: Mã tiêu chí: A1 of 00004 is scored on row 2 already (one row per criterion)",
        f"{broken}:4: Mã tiêu chí: A2 is filled from the survey, not scored by hand",
        f"{broken}:5: Điểm tự chấm: 6.5 is outside 0–6, the points of B1",
        f"{broken}:6: Tài liệu kiểm chứng: A1 needs evidence for its points "
        "(a document number or a link)",
        f"{broken}:7: Mã đơn vị: no scorecard for '99999' in 2026 (see `sipas par show`)",
        f"{broken}:8: Điểm tự chấm: 'nhiều' is not a number of points (e.g. 1.5 or 1,5)",
    ]
    assert await self_scores(year, 2026) == []


async def test_two_units_import_their_files_and_the_same_file_again_changes_nothing(
    year: Database, tmp_path: Path
) -> None:
    assessment = await load_assessment(year)
    rows = template_rows(assessment, "00070")
    assert rows[0] == [
        "Mã đơn vị",
        "Mã tiêu chí",
        "Tiêu chí",
        "Cách chấm",
        "Điểm tối đa",
        "Điểm tự chấm",
        "Tài liệu kiểm chứng",
        "Bắt buộc kiểm chứng",
        "Ghi chú",
    ]
    assert [row[1] for row in rows[1:]] == ["A1", "B1"]  # survey criteria are not in it
    rows[1][5], rows[1][6], rows[2][5] = "2", "KH 5/KH-UBND", "3"
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    filled = tmp_path / "00070.xlsx"
    workbook.save(filled)
    first = await import_self_assessment(year, filled, now=NOW)
    assert (first.units, first.rows, first.saved.added) == (("00070",), 2, 2)
    other = written(tmp_path, "00004.csv", HEADER + '00004,A1,3,QĐ 1,\n00004,B1,"5,0",,ghi chú\n')
    await import_self_assessment(year, other, now=NOW)
    again = await import_self_assessment(year, filled, now=NOW)
    assert (again.saved.added, again.saved.changed, again.saved.unchanged) == (0, 0, 2)
    stored = {
        (score.unit_code, score.criterion_code): score for score in await self_scores(year, 2026)
    }
    assert {key: score.points for key, score in stored.items()} == {
        ("00004", "A1"): 3.0,
        ("00004", "B1"): 5.0,
        ("00070", "A1"): 2.0,
        ("00070", "B1"): 3.0,
    }
    assert stored[("00070", "A1")].evidence == "KH 5/KH-UBND"
    assert stored[("00004", "B1")].note == "ghi chú"


async def test_the_councils_adjustments_are_added_with_reason_and_author_and_the_self_score_stays(
    year: Database, tmp_path: Path
) -> None:
    await admin(year)
    await admin(year, "lan", "viewer")
    await import_self_assessment(
        year, written(tmp_path, "a.csv", HEADER + "00004,B1,5,,\n"), now=NOW
    )
    with pytest.raises(ParError, match="only staff admins"):
        await appraiser(year, "lan")
    council = await appraiser(year, "council")
    done = await appraise(
        year,
        unit_code="00004",
        criterion_code="B1",
        points="4",
        reason="Thiếu minh chứng",
        by=council,
        now=NOW,
    )
    assert (done.recorded, done.unchanged) == (1, 0)
    with pytest.raises(EntryProblem) as refused:
        await appraise(
            year,
            unit_code="00004",
            criterion_code="B1",
            points="3",
            reason=" ",
            by=council,
            now=NOW,
        )
    assert refused.value.column == "reason"
    council_file = written(
        tmp_path,
        "council.csv",
        "Mã đơn vị,Mã tiêu chí,Điểm thẩm định,Lý do điều chỉnh\n"
        "00004,B1,3.5,Minh chứng không đủ\n"
        "00004,A1,,\n",
    )
    assert (
        await appraise_file(year, council_file, by=council, now=NOW + timedelta(hours=1))
    ).recorded == 1
    assert (await appraise_file(year, council_file, by=council, now=NOW)).unchanged == 1
    history = await appraisals(year, 2026, unit_code="00004")
    assert [(entry.points, entry.reason, entry.staff_name, entry.channel) for entry in history] == [
        (4.0, "Thiếu minh chứng", "council", "cli"),
        (3.5, "Minh chứng không đủ", "council", "file"),
    ]
    line = next(
        line
        for result in (await results(year)).results
        if result.unit_code == "00004"
        for line in result.lines
        if line.code == "B1"
    )
    assert (line.self_points, line.appraised_points, line.points, line.state) == (
        5.0,
        3.5,
        3.5,
        "appraised",
    )
    assert line.appraisal_reason == "Minh chứng không đủ" and line.appraised_by == "council"


async def test_survey_criteria_are_the_mapping_of_the_exported_indices(
    year: Database, tmp_path: Path
) -> None:
    published = await export_period(
        year,
        tmp_path / "2026.csv",
        "csv",
        ReportQuery(parse_period("2026"), "commune", SIPAS_LAYOUT, METHOD, min_cell_size=10),
        include_raw=False,
    )
    exported = {
        (row["unit_code"], row["code"]): row["index_pct"]
        for row in csv.DictReader(io.StringIO(published.files[0].path.read_text()))
        if row["respondent_type"] == "all" and row["scope"] in ("overall", "element")
    }
    by_unit = {result.unit_code: result for result in (await results(year)).results}
    for unit in ("00004", "00070"):
        lines = {line.code: line for line in by_unit[unit].lines}
        overall = float(exported[(unit, "")])
        officials = float(exported[(unit, "CONG_CHUC")])
        assert lines["A2"].points == round(6 * min(1, max(0, (overall - 50) / 50)), 2)
        assert lines["B2"].points == (4 if officials >= 90 else 2 if officials >= 75 else 0)
        assert lines["A2"].figure is not None and lines["A2"].figure.index_pct == overall
    # No counter, no figure: missing, never zero; too few respondents: suppressed.
    missing = {line.code: line for line in by_unit["00082"].lines}["A2"]
    assert (missing.state, missing.points) == ("missing", None)
    suppressed = {line.code: line for line in by_unit["HN-STP"].lines}["A2"]
    assert (suppressed.state, suppressed.points) == ("suppressed", None)
    assert suppressed.figure is not None and suppressed.figure.n_respondents == 5


async def test_totals_index_ranking_and_bands_equal_a_hand_computation(
    year: Database, tmp_path: Path
) -> None:
    await admin(year)
    await import_self_assessment(
        year,
        written(
            tmp_path,
            "all.csv",
            HEADER
            + "00004,A1,3,QĐ 1,\n00004,B1,5,,\n"
            + "00070,A1,2,QĐ 2,\n00070,B1,3,,\n"
            + "00082,A1,4,QĐ 3,\n00082,B1,6,,\n"
            + "HN-STP,A1,4,QĐ 4,\nHN-STP,B1,8,,\nHN-STP,B2,2,BK 1,\nHN-STP,B3,1,BB 2,\n",
        ),
        now=NOW,
    )
    await appraise(
        year,
        unit_code="00004",
        criterion_code="B1",
        points="4",
        reason="Thiếu minh chứng",
        by=await appraiser(year, "council"),
        now=NOW,
    )
    published = await results(year)
    summary = [
        (r.tree, r.unit_code, r.points, r.index, r.rank, r.ranked, r.classification, r.unscored)
        for r in published.results
    ]
    # 00004: A 3 + 6 (index 100), B 4 (appraised) + 4 (CONG_CHUC 100) = 17 of 20 → 85 %.
    # 00070: A 2 + 3 (index 75: 6 × 25/50), B 3 + 2 (75 ≥ 75) = 10 → 50 %.
    # 00082: A 4 + missing, B 6 + missing = 10 → 50 %, sharing place 2 with 00070.
    # HN-STP: A 4 + suppressed, B 8 + 2 − 1 = 13 → 65 %.
    assert summary == [
        ("department", "HN-STP", 13.0, 65.0, 1, 1, "Đạt", 1),
        ("commune", "00004", 17.0, 85.0, 1, 3, "Tốt", 0),
        ("commune", "00070", 10.0, 50.0, 2, 3, "Đạt", 0),
        ("commune", "00082", 10.0, 50.0, 2, 3, "Đạt", 2),
    ]
    stp = published.results[0]
    assert [(c.code, c.points, c.max_points, c.index) for c in stp.contents] == [
        ("A", 4.0, 10.0, 40.0),
        ("B", 9.0, 10.0, 90.0),
    ]
    penalty = next(line for line in stp.lines if line.code == "B3")
    assert (penalty.self_points, penalty.points) == (1.0, -1.0)


async def test_a_viewer_sees_only_the_scorecards_of_their_units(year: Database) -> None:
    async with year.reading() as session:
        ward = await scope_of(session, ["00004"])
        department = await scope_of(session, ["HN-STP"])
        city = await scope_of(session, ["01"])
    published = await results(year)
    seen = {
        name: [result.unit_code for result in published.results if in_scope(scope.allows)(result)]
        for name, scope in (("ward", ward), ("department", department), ("city", city))
    }
    assert seen == {
        "ward": ["00004"],
        "department": ["HN-STP"],
        "city": ["00004", "00070", "00082"],
    }


async def test_the_same_results_give_the_same_files_whenever_they_are_written(
    year: Database, tmp_path: Path
) -> None:
    published = await results(year)

    def files(fmt: str) -> Callable[[], list[bytes]]:
        def write() -> list[bytes]:
            out = tmp_path / f"{fmt}-{datetime.now(UTC):%Y}"
            paths, manifest = write_par_export(published, out, fmt)
            return [path.read_bytes() for path in [*paths, manifest]]

        return write

    for fmt in FORMATS:
        first, later = built_at_two_instants(files(fmt))
        assert first == later, fmt


async def test_text_that_looks_like_a_formula_is_written_inert_and_read_back_as_it_was(
    year: Database, tmp_path: Path
) -> None:
    filled = io.StringIO()
    csv.writer(filled, lineterminator="\n").writerows(
        [HEADER.strip().split(","), ["00004", "A1", "3", FORMULA, "-1 điểm: @thiếu"]]
    )
    await import_self_assessment(year, written(tmp_path, "in.csv", filled.getvalue()), now=NOW)
    async with year.transaction() as session:
        await session.execute(
            update(ParScorecard).where(ParScorecard.unit_code == "00004").values(unit_name="=X")
        )

    written_files = {
        f"template.{fmt}": (await unit_template(year, "00004", fmt, year=None, appraisal=False))[1]
        for fmt in ("csv", "xlsx")
    }
    published = await results(year)
    for fmt in FORMATS:
        paths, _manifest = write_par_export(published, tmp_path / fmt, fmt)
        written_files |= {path.name: path.read_bytes() for path in paths if fmt != "json"}

    for name, data in written_files.items():
        fmt = name.rsplit(".", 1)[1]
        assert live_cells(data, fmt) == [], name
    for name in ("par-2026-results.csv", "par-2026.xlsx"):
        assert "'=X" in cell_texts(written_files[name], name.rsplit(".", 1)[1]), name
    for name in ("template.csv", "template.xlsx"):
        fmt = name.rsplit(".", 1)[1]
        assert {"'" + FORMULA, "'-1 điểm: @thiếu"} <= set(cell_texts(written_files[name], fmt))
    # The unit fills in its template and hands it back: the text is what it wrote.
    back = tmp_path / "back.xlsx"
    back.write_bytes(written_files["template.xlsx"])
    again = await import_self_assessment(year, back, now=NOW)
    assert (again.saved.added, again.saved.changed) == (0, 0)
    stored = {score.criterion_code: score for score in await self_scores(year, 2026)}
    assert (stored["A1"].evidence, stored["A1"].note) == (FORMULA, "-1 điểm: @thiếu")
