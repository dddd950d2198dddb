"""Self-assessment files: the template a unit fills in (Vietnamese, its own criteria), and the
import that checks a filled file whole and stores it all or not at all.

A file has a header row and a row per criterion the unit scores itself:

    Mã đơn vị | Mã tiêu chí | Tiêu chí | Cách chấm | Điểm tối đa | Điểm tự chấm |
    Tài liệu kiểm chứng | Bắt buộc kiểm chứng | Ghi chú

Only the unit, criterion, score, evidence and note columns are read (by their Vietnamese
header or their English key: unit, criterion, self_score, evidence, note); a row whose score
is left empty is not assessed. The same file imported again changes nothing; a criterion
scored again takes the new score, evidence and note.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from analytics.export import workbook_bytes
from par.assessment import (
    Assessment,
    EntryProblem,
    ParError,
    entries_of_file,
    load_assessment,
    points_within,
)
from par.criteria import Criterion
from par.files import Columns
from problems import Problem
from storage.db import Database
from storage.par import (
    AppraisalRecord,
    SavedScores,
    SelfScoreInput,
    SelfScoreRecord,
    appraisals,
    save_self_scores,
    self_scores,
)
from storage.spreadsheets import inert_cell

__all__ = [
    "APPRAISAL_COLUMNS",
    "SCORING_LABELS",
    "SELF_COLUMNS",
    "SelfAssessmentImport",
    "import_self_assessment",
    "template_bytes",
    "template_rows",
    "unit_template",
]

SELF_COLUMNS = {
    "unit": "Mã đơn vị",
    "criterion": "Mã tiêu chí",
    "title": "Tiêu chí",
    "scoring": "Cách chấm",
    "max_points": "Điểm tối đa",
    "self_score": "Điểm tự chấm",
    "evidence": "Tài liệu kiểm chứng",
    "evidence_required": "Bắt buộc kiểm chứng",
    "note": "Ghi chú",
}
APPRAISAL_COLUMNS = {"appraised": "Điểm thẩm định", "reason": "Lý do điều chỉnh"}
"""The columns an appraisal file adds to a unit's self-assessment (`par.appraisal`)."""
SCORING_LABELS = {
    "self": "Tự chấm",
    "bonus": "Điểm thưởng",
    "penalty": "Điểm trừ",
    "survey": "Từ khảo sát",
}
MAX_TEXT = 2000  # evidence and notes: a document number, a link or a few sentences
GUIDE = (
    "Hướng dẫn tự chấm điểm Chỉ số cải cách hành chính",
    "",
    "Mỗi dòng của trang đầu là một tiêu chí đơn vị tự chấm điểm.",
    "Điền cột «Điểm tự chấm» (từ 0 đến «Điểm tối đa»; số thập phân viết 1,5 hoặc 1.5).",
    "Cột «Tài liệu kiểm chứng»: số, ký hiệu văn bản hoặc đường dẫn đến tài liệu; bắt buộc khi "
    "cột «Bắt buộc kiểm chứng» là «Có» và điểm lớn hơn 0.",
    "Tiêu chí «Điểm trừ»: điền số điểm bị trừ (số dương).",
    "Các tiêu chí lấy từ khảo sát sự hài lòng được tính tự động, không có trong tệp này.",
    "Để trống điểm nếu chưa tự chấm tiêu chí đó. Không đổi tên cột, không thêm dòng tiêu đề.",
    "Gửi lại tệp cho Sở Nội vụ; tệp được kiểm tra toàn bộ, có lỗi thì không lưu dòng nào.",
)


@dataclass(frozen=True)
class SelfAssessmentImport:
    """What an import stored: the year, the units and rows read, and what changed."""

    year: int
    units: tuple[str, ...]
    rows: int
    saved: SavedScores


def template_rows(
    assessment: Assessment,
    unit_code: str,
    scores: Sequence[SelfScoreRecord] = (),
    history: Sequence[AppraisalRecord] = (),
    *,
    appraisal: bool = False,
) -> list[list[str | float]]:
    """The header and a row per self-scored criterion of a unit, with the scores stored so
    far; with `appraisal`, the council's columns too (the latest adjustment filled in)."""
    scorecard = assessment.scorecard(unit_code)
    if scorecard is None:
        raise ParError(f"no scorecard for {unit_code!r} in {assessment.year}: see `sipas par show`")
    stored = {score.criterion_code: score for score in scores if score.unit_code == unit_code}
    adjusted = {entry.criterion_code: entry for entry in history if entry.unit_code == unit_code}
    header: list[str | float] = list(SELF_COLUMNS.values())
    if appraisal:
        header += list(APPRAISAL_COLUMNS.values())
    rows = [header]
    for criterion in assessment.tree(scorecard).leaves():
        if criterion.scoring == "survey":
            continue
        score = stored.get(criterion.code)
        row: list[str | float] = [
            unit_code,
            criterion.code,
            criterion.title,
            SCORING_LABELS[str(criterion.scoring)],
            criterion.max_points,
            "" if score is None else score.points,
            (score.evidence or "") if score else "",
            "Có" if criterion.evidence_required else "Không",
            (score.note or "") if score else "",
        ]
        if appraisal:
            entry = adjusted.get(criterion.code)
            row += ["", ""] if entry is None else [entry.points, entry.reason]
        rows.append(row)
    return rows


def template_bytes(
    rows: list[list[str | float]], fmt: str, *, title: str, guide: Sequence[str] = GUIDE
) -> bytes:
    """A template as CSV (UTF-8 with a byte-order mark, so spreadsheets show the Vietnamese)
    or as XLSX (the rows, then a sheet with the guide)."""
    if fmt == "csv":
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(
            [inert_cell(cell) for cell in row] for row in rows
        )
        return ("\ufeff" + text.getvalue()).encode("utf-8")
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Tự chấm điểm"
    for row in rows:
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    widths = [12, 12, 60, 14, 12, 14, 40, 12, 40, 14, 40]
    for column, width in zip("ABCDEFGHIJK", widths, strict=False):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "C2"
    notes = workbook.create_sheet("Hướng dẫn")
    notes.append([title])
    notes["A1"].font = Font(bold=True)
    for line in guide:
        notes.append([line])
    notes.column_dimensions["A"].width = 120
    return workbook_bytes(workbook)


async def unit_template(
    database: Database, unit_code: str, fmt: str, *, year: int | None, appraisal: bool
) -> tuple[Assessment, bytes]:
    """The template of a unit's self-assessment (or, with `appraisal`, of its appraisal)."""
    assessment = await load_assessment(database, year)
    rows = template_rows(
        assessment,
        unit_code,
        await self_scores(database, assessment.year),
        await appraisals(database, assessment.year, unit_code=unit_code) if appraisal else (),
        appraisal=appraisal,
    )
    scorecard = assessment.scorecard(unit_code)
    assert scorecard is not None  # template_rows refused an unknown unit
    title = (
        f"{scorecard.unit_name} ({unit_code}) · {assessment.scheme.title} · năm {assessment.year}"
    )
    return assessment, template_bytes(rows, fmt, title=title)


def _text(cell: str, column: str) -> str | None:
    if len(cell) > MAX_TEXT:
        raise EntryProblem(column, f"{len(cell)} characters (at most {MAX_TEXT})")
    return cell or None


def _self_score(
    assessment: Assessment, columns: Columns, cells: list[str]
) -> SelfScoreInput | None:
    """The score a row gives, or None for a row left empty; EntryProblem for a bad one."""
    unit_code = columns.cell(cells, "unit")
    code = columns.cell(cells, "criterion")
    score_text = columns.cell(cells, "self_score")
    evidence = _text(columns.cell(cells, "evidence"), "evidence")
    note = _text(columns.cell(cells, "note"), "note")
    criterion: Criterion = assessment.self_scored(unit_code, code)
    if not score_text:
        if evidence or note:
            raise EntryProblem(
                "self_score", "empty, but evidence or a note is given: add the score"
            )
        return None
    points = points_within(criterion, score_text, "self_score")
    if criterion.evidence_required and points > 0 and not evidence:
        raise EntryProblem(
            "evidence", f"{code} needs evidence for its points (a document number or a link)"
        )
    return SelfScoreInput(unit_code, code, points, evidence, note)


async def import_self_assessment(
    database: Database, path: Path, *, now: datetime, year: int | None = None
) -> SelfAssessmentImport:
    """Check a filled self-assessment file whole, then store its scores in one transaction.

    ParFileError lists every problem (spreadsheet row, column, what is wrong), and then
    nothing is stored.
    """
    assessment = await load_assessment(database, year)
    columns = Columns(SELF_COLUMNS)
    scores = entries_of_file(
        path,
        columns,
        required=("unit", "criterion", "self_score", "evidence"),
        # Blank lines are harmless.
        entry_of=lambda cells: _self_score(assessment, columns, cells) if any(cells) else None,
        done="scored",
        outcome="nothing was stored",
        empty=Problem(
            file=str(path),
            column=columns.label("self_score"),
            message="no scores in the file",
            hint="fill the column in",
        ),
    )
    saved = await save_self_scores(
        database, assessment.year, scores, source_file=path.name[:255], now=now
    )
    units = tuple(dict.fromkeys(score.unit_code for score in scores))
    return SelfAssessmentImport(assessment.year, units, len(scores), saved)
