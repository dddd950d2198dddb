"""Export writers (csv, json, xlsx, parquet) and the manifest: same data, same bytes."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import math
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from analytics.query import ReportQuery
from analytics.schemes import ScoringScheme
from problems import ProblemsFound
from storage.spreadsheets import inert_cell

if TYPE_CHECKING:
    from openpyxl import Workbook

FORMATS = ("csv", "json", "xlsx", "parquet")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # xlsx is a zip: fixed entry times keep the bytes stable
_FIXED_TIME = datetime(2000, 1, 1)  # the workbook's created and modified times
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


class ExportError(ProblemsFound):
    """An export that could not be written; the message says what to do."""


@dataclass(frozen=True)
class ExportedFile:
    """One file written: its path, which responses it covers, rows and SHA-256."""

    path: Path
    responses: str
    rows: int
    sha256: str


def table_bytes(table: pd.DataFrame, fmt: str) -> bytes:
    """The bytes of a table in one format; deterministic for equal tables."""
    if fmt == "csv":
        return _csv(table)
    if fmt == "json":
        return _json(table)
    if fmt == "xlsx":
        return _xlsx(table)
    if fmt == "parquet":
        return _parquet(table)
    raise ExportError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def _plain(value: Any) -> Any:
    """A cell as a plain Python value: None for missing, bool/int/float/str otherwise."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


def _records(table: pd.DataFrame) -> list[list[Any]]:
    return [[_plain(value) for value in row] for row in table.itertuples(index=False, name=None)]


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, str):
        return inert_cell(value)
    return str(value)


def _csv(table: pd.DataFrame) -> bytes:
    text = pd.DataFrame(
        [[_csv_cell(value) for value in row] for row in _records(table)], columns=table.columns
    ).to_csv(index=False, lineterminator="\n")
    return text.encode("utf-8")


def _json(table: pd.DataFrame) -> bytes:
    columns = list(table.columns)
    rows = [dict(zip(columns, row, strict=True)) for row in _records(table)]
    return (json.dumps(rows, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _xlsx(table: pd.DataFrame) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "indices"
    sheet.append(list(table.columns))
    for row in _records(table):
        sheet.append(row)
    return workbook_bytes(workbook)


def workbook_bytes(workbook: Workbook) -> bytes:
    """An openpyxl workbook's XLSX bytes, the same for the same content whenever it is saved.

    Every workbook the product writes is saved here, so here its text is made inert: a
    cell whose text starts like a formula (openpyxl stores any text starting with `=` as
    one) is written as that text behind an apostrophe (`inert_cell`). No workbook of the
    product holds a formula of its own; numbers stay numbers.
    """
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    cell.value = inert_cell(cell.value)
    workbook.properties.created = _FIXED_TIME
    workbook.properties.modified = _FIXED_TIME
    saved = io.BytesIO()
    workbook.save(saved)
    # openpyxl stamps every zip entry with the current time, and the document's "modified"
    # with the time of saving whatever the properties say: both are rewritten, fixed.
    stable = io.BytesIO()
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(stable, "w") as target:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = entry.external_attr
            content = source.read(entry.filename)
            if entry.filename == "docProps/core.xml":
                content = _MODIFIED.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", content)
            target.writestr(info, content)
    return stable.getvalue()


def _parquet(table: pd.DataFrame) -> bytes:
    if importlib.util.find_spec("pyarrow") is None:
        raise ExportError("parquet needs pyarrow: pip install pyarrow")
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False, engine="pyarrow")
    return buffer.getvalue()


def raw_path(path: Path) -> Path:
    """Where the raw-responses twin of an export goes: name.raw.ext beside name.ext."""
    return path.with_name(f"{path.stem}.raw{path.suffix}")


def manifest_path(path: Path) -> Path:
    """Where the manifest of an export goes: name.ext.manifest.json beside name.ext, so the
    exports of one period in two formats keep a manifest each."""
    return path.with_name(f"{path.name}.manifest.json")


def write_export(
    tables: dict[str, pd.DataFrame],
    out: Path,
    fmt: str,
    *,
    query: ReportQuery,
    data_as_of: datetime | None,
    scheme: ScoringScheme | None = None,
) -> tuple[list[ExportedFile], Path]:
    """Write the cleaned table to `out`, the raw one (if given) beside it, and the manifest of
    the query they answer."""
    out.parent.mkdir(parents=True, exist_ok=True)
    written: list[ExportedFile] = []
    for responses, path in (("cleaned", out), ("raw", raw_path(out))):
        if responses not in tables:
            continue
        data = table_bytes(tables[responses], fmt)
        path.write_bytes(data)
        written.append(
            ExportedFile(path, responses, len(tables[responses]), hashlib.sha256(data).hexdigest())
        )
    method, layout, period = query.method, query.layout, query.period
    manifest = {
        "generated_by": f"sipas-bot {_package_version()}",
        "method": {
            "id": method.id,
            "version": method.version,
            "sha256": method.sha256,
            "exclude_when": [list(combination) for combination in method.exclude_when],
        },
        "questionnaire": {"id": layout.questionnaire_id, "version": layout.questionnaire_version},
        "period": {
            "label": period.label,
            "kind": period.kind,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
        "level": query.level,
        "format": fmt,
        "min_cell_size": query.min_cell_size,
        "scheme": None if scheme is None else {"id": scheme.id, "example": scheme.example},
        "data_as_of": data_as_of.isoformat() if data_as_of else None,
        "rows": written[0].rows if written else 0,
        "files": [
            {
                "name": item.path.name,
                "responses": item.responses,
                "rows": item.rows,
                "sha256": item.sha256,
            }
            for item in written
        ],
    }
    target = manifest_path(out)
    target.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return written, target


def _package_version() -> str:
    try:
        return version("sipas-bot")
    except PackageNotFoundError:
        return "unknown"
