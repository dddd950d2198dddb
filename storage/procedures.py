"""What a rating is about: the procedure catalogue, and attributing a rating to a procedure and its authority.

A rating belongs to the competent authority of the procedure (cơ quan có thẩm quyền giải
quyết), not to the counter that received the dossier (shared/domain/sipas.md §5b). An
invitation or an imported response may name the procedure (mã TTHC), the authority (the
code of a loaded agency or unit) and how the dossier was submitted; `Attributions.resolve`
checks them and fills in what is missing:

- no authority, a procedure of the catalogue: its default authority; without one, for a
  procedure resolved at commune level the counter's commune, else the counter's agency;
- no authority otherwise: the counter's agency, or its unit for a counter without one
  (a counter's QR poster, with no invitation, is attributed the same way);
- a procedure code is checked against the catalogue when one is loaded (an unknown code is
  refused); without a catalogue any well-formed code is kept.

The catalogue is loaded all or nothing from a CSV file (`load_procedures_csv`), read like
every other file through `storage.spreadsheets` (by `storage.units`' reader).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from problems import Problem, ProblemsFound
from storage.db import AsyncSession, Transaction
from storage.models import AdminUnit, Agency, Invitation, Procedure, ServicePoint
from storage.units import (
    Counts,
    LoadReport,
    UnitDataError,
    _check_choice,
    _check_text,
    _Problems,
    _read_csv,
)

__all__ = [
    "AUTHORITY_LEVELS",
    "PROCEDURE_COLUMNS",
    "SAMPLE_PROCEDURES_FILE",
    "SUBMITTED_VIA",
    "Attribution",
    "AttributionRefused",
    "Attributions",
    "RatingSubject",
    "counter_authority",
    "list_procedures",
    "load_attributions",
    "load_procedures_csv",
    "load_sample_procedures",
    "rating_subject",
]

SUBMITTED_VIA = ("direct", "online", "post")
"""How a dossier reached the counter: handed in, through the public service portal, by post."""
AUTHORITY_LEVELS = ("province", "commune")
"""Who resolves a procedure: a provincial body (a Sở), or the commune (UBND xã/phường)."""
PROCEDURE_COLUMNS = ("code", "name", "field", "authority_level", "default_authority")
PROCEDURE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
PROCEDURE_CODE_RULE = "1 to 32 letters, digits and . - _, e.g. 1.001193"
SAMPLE_PROCEDURES_FILE = "hanoi-procedures-sample.csv"
SAMPLE_DIR = Path(__file__).parent / "sample"


@dataclass(frozen=True)
class Attribution:
    """What one rating is about: the procedure (if known), the competent authority, and how
    the dossier was submitted."""

    procedure_code: str | None
    authority_code: str | None
    submitted_via: str = "direct"


class AttributionRefused(ProblemsFound):
    """An attribution was refused; each problem's column names the field at fault."""


def counter_authority(point: ServicePoint) -> str:
    """The authority a rating at `point` belongs to when nothing else is known."""
    return point.agency_code or point.unit_code


@dataclass(frozen=True)
class Attributions:
    """What attributions are checked against: the procedure catalogue and the codes of every
    agency and unit (one read, for a whole import)."""

    procedures: dict[str, Procedure]
    authorities: frozenset[str]

    def resolve(
        self,
        point: ServicePoint,
        *,
        procedure_code: str | None = None,
        authority: str | None = None,
        submitted_via: str | None = None,
    ) -> Attribution:
        """The attribution of a rating at `point`, or AttributionRefused naming every field
        that is wrong (`procedure_code`, `authority`, `submitted_via`)."""
        problems: list[Problem] = []
        procedure = None
        if procedure_code:
            if not PROCEDURE_CODE.fullmatch(procedure_code):
                problems.append(
                    Problem(
                        column="procedure_code",
                        message=f"{procedure_code!r} is not a procedure code",
                        hint=PROCEDURE_CODE_RULE,
                    )
                )
            elif self.procedures and procedure_code not in self.procedures:
                problems.append(
                    Problem(
                        column="procedure_code",
                        message=f"unknown procedure {procedure_code!r}",
                        hint="use a code of the catalogue (`sipas procedures list`)",
                    )
                )
            procedure = self.procedures.get(procedure_code)
        if authority and authority not in self.authorities:
            problems.append(
                Problem(
                    column="authority",
                    message=f"unknown authority {authority!r}",
                    hint="the code of a loaded agency or unit (`sipas units agencies`, "
                    "`sipas units list`)",
                )
            )
        via = submitted_via or "direct"
        if via not in SUBMITTED_VIA:
            problems.append(
                Problem(
                    column="submitted_via",
                    message=f"{via!r} is not allowed",
                    hint=f"one of: {' | '.join(SUBMITTED_VIA)}",
                )
            )
        if problems:
            raise AttributionRefused(problems)
        return Attribution(
            procedure_code or None, authority or self._default(point, procedure), via
        )

    def _default(self, point: ServicePoint, procedure: Procedure | None) -> str:
        if procedure is not None and procedure.default_authority:
            return procedure.default_authority
        if procedure is not None and procedure.authority_level == "commune":
            return point.unit_code
        return counter_authority(point)


async def load_attributions(session: Transaction) -> Attributions:
    """The catalogue and the authority codes, read once."""
    procedures = {row.code: row for row in (await session.scalars(select(Procedure))).all()}
    agencies = (await session.scalars(select(Agency.code))).all()
    units = (await session.scalars(select(AdminUnit.code))).all()
    return Attributions(procedures, frozenset([*agencies, *units]))


# --- The catalogue --------------------------------------------------------------------------


def _parse_procedure(
    problems: _Problems, line: int, values: dict[str, str], authorities: frozenset[str]
) -> dict[str, str | None] | None:
    found = len(problems.found)
    code = values.get("code", "")
    if not PROCEDURE_CODE.fullmatch(code):
        shown = f"{code!r} is not a procedure code" if code else "empty"
        problems.add(line, "code", shown, PROCEDURE_CODE_RULE)
    name = _check_text(problems, line, "name", values.get("name", ""), required=True)
    field = _check_text(problems, line, "field", values.get("field", ""), required=True)
    level = _check_choice(
        problems, line, "authority_level", values.get("authority_level", ""), AUTHORITY_LEVELS
    )
    default = values.get("default_authority", "") or None
    if default is not None and default not in authorities:
        problems.add(
            line,
            "default_authority",
            f"unknown authority {default!r}",
            "the code of a loaded agency or unit; load the units first",
        )
    if len(problems.found) > found:
        return None
    return {
        "code": code,
        "name": name,
        "field": field,
        "authority_level": level,
        "default_authority": default,
    }


async def load_procedures_csv(
    session: AsyncSession, source: str, data: bytes, *, is_sample: bool = False
) -> LoadReport:
    """Add or update the procedures of a catalogue file; UnitDataError lists every problem
    and nothing is written (run it in `load_all_or_nothing`'s transaction)."""
    records = _read_csv(source, data, required=PROCEDURE_COLUMNS, allowed=PROCEDURE_COLUMNS)
    authorities = (await load_attributions(session)).authorities
    problems = _Problems(source)
    rows: list[dict[str, str | None]] = []
    seen: dict[str, int] = {}
    for record in records:
        row = _parse_procedure(problems, record.line, record.values, authorities)
        if row is None:
            continue
        code = str(row["code"])
        if code in seen:
            problems.add(record.line, "code", f"{code!r} repeats row {seen[code]}", "once each")
            continue
        seen[code] = record.line
        rows.append(row)
    if problems.found:
        raise UnitDataError(problems.found)
    counts = Counts()
    for row in rows:
        existing = await session.get(Procedure, row["code"])
        values = {**row, "is_sample": is_sample}
        if existing is None:
            session.add(Procedure(**values))
            counts.count("added")
        elif any(getattr(existing, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(existing, key, value)
            counts.count("updated")
        else:
            counts.count("unchanged")
    await session.flush()
    return LoadReport(procedures=counts)


async def load_sample_procedures(session: AsyncSession) -> LoadReport:
    """The small sample catalogue shipped for the demo (marked `is_sample`); needs the Hà Nội
    sample units."""
    data = (SAMPLE_DIR / SAMPLE_PROCEDURES_FILE).read_bytes()
    return await load_procedures_csv(session, SAMPLE_PROCEDURES_FILE, data, is_sample=True)


async def list_procedures(session: AsyncSession) -> list[Procedure]:
    """Every procedure of the catalogue, by field then code."""
    rows = (await session.scalars(select(Procedure))).all()
    return sorted(rows, key=lambda row: (row.field, row.code))


# --- What the respondent is told they rate ----------------------------------------------------


@dataclass(frozen=True)
class RatingSubject:
    """The names a respondent reads before the first question: the counter, and when the
    invitation said so, the procedure and the authority."""

    counter: str
    procedure: str | None = None
    authority: str | None = None


async def rating_subject(
    session: Transaction, service_point_code: str, invitation_id: str | None, *, english: bool
) -> RatingSubject | None:
    """What a survey at this counter (and invitation) rates, by name; None for a counter gone."""
    point = await session.get(ServicePoint, service_point_code)
    if point is None:
        return None
    counter = (point.name_en if english else None) or point.name
    invitation = await session.get(Invitation, invitation_id) if invitation_id else None
    if invitation is None or not (invitation.procedure_code or invitation.authority_code):
        return RatingSubject(counter)
    procedure = None
    if invitation.procedure_code:
        known = await session.get(Procedure, invitation.procedure_code)
        procedure = known.name if known is not None else invitation.procedure_code
    authority = None
    code = invitation.authority_code
    if code and (procedure is not None or code != counter_authority(point)):
        agency = await session.get(Agency, code)
        unit = await session.get(AdminUnit, code) if agency is None else None
        if agency is not None:
            authority = (agency.name_en if english else None) or agency.name
        elif unit is not None:
            authority = (unit.full_name_en if english else None) or unit.full_name
    return RatingSubject(counter, procedure, authority)
