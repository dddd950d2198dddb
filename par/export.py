"""A year's results written for the scoring pipeline and for people: CSV or JSON tables, or the
Vietnamese XLSX report, each with a manifest (scheme, method, files and their SHA-256)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from analytics.export import manifest_path, table_bytes
from par.publish import ParResults, criteria_table, result_table
from par.report import xlsx_report

__all__ = ["FORMATS", "write_par_export"]

FORMATS = ("csv", "json", "xlsx")


def write_par_export(published: ParResults, out_dir: Path, fmt: str) -> tuple[list[Path], Path]:
    """Write the year's files to `out_dir` and a manifest beside them: with csv or json, the
    results (`par-YEAR-results`) and the criteria (`par-YEAR-criteria`); with xlsx, the
    Vietnamese report (`par-YEAR.xlsx`). The same results give the same bytes."""
    year = published.assessment.year
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        contents = {out_dir / f"par-{year}.xlsx": (xlsx_report(published), len(published.results))}
    else:
        results, criteria = result_table(published), criteria_table(published)
        contents = {
            out_dir / f"par-{year}-results.{fmt}": (table_bytes(results, fmt), len(results)),
            out_dir / f"par-{year}-criteria.{fmt}": (table_bytes(criteria, fmt), len(criteria)),
        }
    files = []
    for path, (data, rows) in contents.items():
        path.write_bytes(data)
        files.append({"name": path.name, "rows": rows, "sha256": hashlib.sha256(data).hexdigest()})
    scheme = published.assessment.scheme
    manifest = {
        "year": year,
        "scheme": {"id": scheme.id, "example": scheme.example, "sha256": scheme.sha256},
        "method": {
            "id": published.method.id,
            "version": published.method.version,
            "sha256": published.method.sha256,
        },
        "questionnaire": {
            "id": published.layout.questionnaire_id,
            "version": published.layout.questionnaire_version,
        },
        "min_cell_size": published.min_cell_size,
        "data_as_of": published.data_as_of.isoformat() if published.data_as_of else None,
        "format": fmt,
        "scorecards": len(published.results),
        "files": files,
    }
    target = manifest_path(out_dir / f"par-{year}.{fmt}")
    target.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return list(contents), target
