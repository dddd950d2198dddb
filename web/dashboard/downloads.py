"""The dashboard's downloads: the index table (CSV), the XLSX report, and for admins the
scoring pipeline's export with its manifest, of a period and level or of one unit."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from analytics.export import table_bytes
from analytics.publish import export_period
from analytics.query import ReportQuery
from analytics.report import index_table
from analytics.xlsx_report import report_filename, report_tables, xlsx_report
from storage.aggregation_runs import data_as_of
from web.dashboard.deps import Choice, Chosen, Language, QueryUnit, ScopedUnit, SignedIn, Site
from web.dashboard.site import Dashboard, DashboardRoute, Refused, Staff

__all__ = ["router"]

CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

router = APIRouter(route_class=DashboardRoute)


@dataclass(frozen=True)
class Asked:
    """What a download is of: for whom, the period and level, the unit if one, the language."""

    site: Dashboard
    staff: Staff
    choice: Choice
    unit: ScopedUnit | None
    language: str

    @property
    def level(self) -> str:
        """The unit's level when the download is of one unit, else the chosen level."""
        return self.unit.level if self.unit else self.choice.level

    @property
    def query(self) -> ReportQuery:
        """The index table the download shows (all of it: kept to the reader's scope after)."""
        return self.site.report_query(self.choice.period, self.level)


@dataclass(frozen=True)
class File:
    body: bytes
    filename: str
    media_type: str


async def _indices_csv(asked: Asked) -> File:
    site, period, level, unit = asked.site, asked.choice.period, asked.level, asked.unit
    data = await index_table(site.database, asked.query, unit_code=unit.code if unit else None)
    mine = data[data["unit_code"].map(lambda code: asked.staff.scope.allows(level, str(code)))]
    body = table_bytes(mine.reset_index(drop=True), "csv")
    return File(body, f"sipas-{period.label}-{level}{'-' + unit.code if unit else ''}.csv", CSV)


async def _report_xlsx(asked: Asked) -> File:
    site, scope, unit = asked.site, asked.staff.scope, asked.unit
    tables = await report_tables(
        site.database,
        asked.query,
        data_as_of=await data_as_of(site.database),
        allowed=(
            (lambda lvl, code: code == unit.code)
            if unit
            else (None if scope.everything else scope.allows)
        ),
    )
    # In a worker thread, off the event loop that answers respondents.
    body = await asyncio.to_thread(
        xlsx_report, tables, language=asked.language, zone=asked.site.zone
    )
    return File(body, report_filename(asked.choice.period, asked.level), XLSX)


async def _scoring_export(asked: Asked, *, manifest: bool) -> File:
    """The file `sipas export --format csv` writes, or its manifest, built in a temp dir."""
    # The scoring pipeline's file covers every unit: for admins only.
    if not asked.staff.scope.everything or asked.unit is not None:
        raise Refused(403, "forbidden", asked.staff)
    site, period, level = asked.site, asked.choice.period, asked.level
    with tempfile.TemporaryDirectory() as folder:
        published = await export_period(
            site.database,
            Path(folder) / f"sipas-{period.label}-{level}.csv",
            "csv",
            asked.query,
            scheme=site.scheme,
        )
        if manifest:
            written = published.manifest
            return File(written.read_bytes(), written.name, "application/json")
        written = published.files[0].path
        return File(written.read_bytes(), written.name, CSV)


async def _export_csv(asked: Asked) -> File:
    return await _scoring_export(asked, manifest=False)


async def _export_manifest(asked: Asked) -> File:
    return await _scoring_export(asked, manifest=True)


FILES: dict[str, Callable[[Asked], Awaitable[File]]] = {
    "indices.csv": _indices_csv,
    "report.xlsx": _report_xlsx,
    "export.csv": _export_csv,
    "export.manifest.json": _export_manifest,
}


# The period and level are checked before the unit, the unit before the file's name.
@router.get("/download/{name}")
async def download(
    name: str,
    site: Site,
    staff: SignedIn,
    choice: Chosen,
    unit: QueryUnit,
    language: Language,
) -> Response:
    build = FILES.get(name)
    if build is None:
        raise Refused(404, "not_found", staff)
    file = await build(Asked(site, staff, choice, unit, language))
    response = Response(file.body, media_type=file.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{file.filename}"'
    return response
