"""The XLSX report of a year's PAR Index, in Vietnamese: a summary sheet per tree (place,
points, index, class and each content area), a sheet per unit (every criterion with the
unit's own score, the council's, the survey's, evidence and notes), and a notes sheet."""

from __future__ import annotations

from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from analytics.export import workbook_bytes
from par.criteria import TREES
from par.publish import ParResults
from par.results import CriterionLine, ScorecardResult
from par.self_assessment import SCORING_LABELS

__all__ = ["TREE_NAMES", "figure_text", "state_text", "xlsx_report"]

TREE_NAMES = {"department": "Sở, cơ quan tương đương Sở", "commune": "UBND xã, phường"}
SUMMARY_TITLES = {"department": "Tổng hợp Sở", "commune": "Tổng hợp xã, phường"}
STATE_TEXT = {
    "group": "",
    "appraised": "đã thẩm định",
    "self": "tự chấm, chưa thẩm định",
    "unscored": "chưa chấm",
    "shown": "từ khảo sát",
    "suppressed": "ẩn: quá ít người trả lời",
    "missing": "không có số liệu khảo sát",
}
UNCLASSIFIED = "không xếp loại"
_HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
_GROUP_FONT = Font(bold=True)
_FORBIDDEN_IN_SHEET_NAMES = str.maketrans({character: " " for character in "[]:*?/\\"})


def state_text(line: CriterionLine) -> str:
    """How a criterion's points came about, in Vietnamese."""
    return STATE_TEXT[line.state]


def figure_text(line: CriterionLine, min_cell_size: int) -> str:
    """A survey criterion's figure in Vietnamese: the index with its n, or why there is none."""
    figure = line.figure
    if figure is None:
        return ""
    if figure.state == "shown" and figure.index_pct is not None:
        return f"{figure.index_pct:.2f}% (n={figure.n_respondents})"
    if figure.state == "suppressed":
        return f"ẩn (dưới {min_cell_size} người trả lời hoặc ẩn để bảo vệ ô nhỏ; n={figure.n_respondents})"
    return "không có số liệu"


def _header(sheet: Worksheet, row: int, labels: Sequence[str]) -> None:
    for column, label in enumerate(labels, start=1):
        cell = sheet.cell(row=row, column=column, value=label)
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def _widths(sheet: Worksheet, widths: Sequence[int]) -> None:
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width


def _summary_sheet(sheet: Worksheet, published: ParResults, tree: str) -> None:
    results = [result for result in published.results if result.tree == tree]
    contents = results[0].contents
    scheme = published.assessment.scheme
    sheet.append([f"{scheme.title} · năm {published.assessment.year} · {TREE_NAMES[tree]}"])
    sheet["A1"].font = Font(bold=True, size=12)
    labels = [
        "Xếp hạng",
        "Mã",
        "Đơn vị",
        "Tổng điểm",
        "Điểm tối đa",
        "Chỉ số (%)",
        "Xếp loại",
        "Tiêu chí chưa có điểm",
    ] + [f"{content.code}. {content.title} (tối đa {content.max_points:g})" for content in contents]
    _header(sheet, 2, labels)
    for result in results:
        sheet.append(
            [
                result.rank,
                result.unit_code,
                result.unit_name,
                result.points,
                result.max_points,
                result.index,
                result.classification or UNCLASSIFIED,
                result.unscored,
                *(content.points for content in result.contents),
            ]
        )
    _widths(sheet, [9, 12, 44, 10, 10, 10, 26, 12] + [16] * len(contents))
    sheet.freeze_panes = "D3"


def _unit_sheet(sheet: Worksheet, result: ScorecardResult, published: ParResults) -> None:
    sheet.append([f"{result.unit_name} ({result.unit_code}) · năm {result.year}"])
    sheet["A1"].font = Font(bold=True, size=12)
    sheet.append(
        [
            f"Tổng điểm {result.points:g}/{result.max_points:g} · chỉ số {result.index:.2f}% · "
            f"xếp hạng {result.rank}/{result.ranked} ({TREE_NAMES[result.tree]}) · "
            f"xếp loại: {result.classification or UNCLASSIFIED}"
        ]
    )
    if result.unscored:
        sheet.append(
            [
                f"{result.unscored} tiêu chí chưa có điểm (chưa chấm, hoặc số liệu khảo sát ẩn, thiếu)"
            ]
        )
    start = sheet.max_row + 2
    _header(
        sheet,
        start,
        [
            "Mã",
            "Tiêu chí",
            "Cách chấm",
            "Điểm tối đa",
            "Điểm tự chấm",
            "Điểm thẩm định",
            "Lý do điều chỉnh",
            "Người thẩm định",
            "Chỉ số khảo sát",
            "Điểm khảo sát",
            "Điểm tính",
            "Trạng thái",
            "Tài liệu kiểm chứng",
            "Ghi chú",
        ],
    )
    for line in result.lines:
        survey = line.scoring == "survey"
        sheet.append(
            [
                line.code,
                "    " * line.depth + line.title,
                SCORING_LABELS.get(line.scoring or "", "Nhóm tiêu chí"),
                line.max_points,
                line.self_points,
                line.appraised_points,
                line.appraisal_reason,
                line.appraised_by,
                figure_text(line, published.min_cell_size) if survey else None,
                line.points if survey else None,
                line.points,
                state_text(line),
                line.evidence,
                line.note,
            ]
        )
        if line.scoring is None:
            for cell in sheet[sheet.max_row]:
                cell.font = _GROUP_FONT
    _widths(sheet, [8, 60, 14, 10, 10, 10, 30, 16, 22, 10, 10, 22, 36, 36])
    sheet.freeze_panes = sheet.cell(row=start + 1, column=3)


def _notes_sheet(sheet: Worksheet, published: ParResults) -> None:
    scheme = published.assessment.scheme
    as_of = published.data_as_of
    lines = [
        scheme.title,
        f"Bộ tiêu chí: {scheme.id} (SHA-256 {scheme.sha256})",
        "LƯU Ý: điểm của các tiêu chí là VÍ DỤ, chưa đối chiếu với phụ lục của quyết định."
        if scheme.example
        else "",
        "",
        "Cách tính",
        "Điểm một tiêu chí: điểm thẩm định gần nhất của Hội đồng nếu có, nếu không là điểm tự chấm; "
        "tiêu chí điểm trừ được trừ vào tổng.",
        "Tiêu chí lấy từ khảo sát: chỉ số hài lòng của năm (phương pháp "
        f"{published.method.id} phiên bản {published.method.version}, bảng hỏi "
        f"{published.layout.questionnaire_id} {published.layout.questionnaire_version}) quy ra điểm "
        "theo cách quy đổi của bộ tiêu chí; chỉ số bị ẩn (dưới "
        f"{published.min_cell_size} người trả lời) hoặc không có thì không tính điểm và ghi rõ, "
        "không coi là 0 điểm.",
        "Tổng điểm là tổng các nội dung (không dưới 0); chỉ số = tổng điểm ÷ điểm tối đa × 100.",
        "Xếp hạng riêng cho Sở và cho xã, phường theo tổng điểm; đơn vị bằng điểm cùng hạng.",
        "",
        "Xếp loại",
        *(f"từ {band.min_index:g}%: {band.label}" for band in scheme.classification),
        "",
        "Số liệu khảo sát tính đến: "
        + (f"{as_of:%Y-%m-%d %H:%M} UTC" if as_of else "chưa tổng hợp lần nào"),
        "Số liệu là mức độ hài lòng của người sử dụng dịch vụ tại Bộ phận Một cửa theo phương "
        "pháp SIPAS, không phải chỉ số SIPAS quốc gia.",
    ]
    for line in lines:
        sheet.append([line])
    sheet["A1"].font = Font(bold=True, size=12)
    sheet.column_dimensions["A"].width = 140


def _sheet_name(code: str, taken: set[str]) -> str:
    name, number = code.translate(_FORBIDDEN_IN_SHEET_NAMES)[:31], 2
    while name.lower() in taken:
        suffix = f" ({number})"
        name, number = code[: 31 - len(suffix)] + suffix, number + 1
    taken.add(name.lower())
    return name


def xlsx_report(published: ParResults) -> bytes:
    """The report's bytes: the same results give the same bytes."""
    workbook = Workbook()
    first = True
    taken = {"ghi chú"}
    for tree in TREES:
        if not any(result.tree == tree for result in published.results):
            continue
        sheet = workbook.active if first else workbook.create_sheet()
        first = False
        sheet.title = SUMMARY_TITLES[tree]
        taken.add(sheet.title.lower())
        _summary_sheet(sheet, published, tree)
    for result in published.results:
        _unit_sheet(workbook.create_sheet(_sheet_name(result.unit_code, taken)), result, published)
    notes = workbook.active if first else workbook.create_sheet()
    notes.title = "Ghi chú"
    _notes_sheet(notes, published)
    return workbook_bytes(workbook)
