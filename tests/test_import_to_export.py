"""Paper answers in, pipeline file out: `sipas export` equals an independent computation, cell by cell.

The reference below is written from the method in the domain brief alone (item = share of
valid answers that are 4 or 5; element = mean of its items; overall = mean of the elements;
Wilson 95 % interval; cells under 10 respondents suppressed), not from analytics/.
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TypedDict

import pytest
from click.testing import CliRunner

from bot.cli import cli
from tests.conftest import TEST_SECRET

ELEMENTS = {
    "TIEP_CAN": ["15", "16", "17", "18"],
    "TTHC": ["19", "20", "21", "22"],
    "CONG_CHUC": ["23", "24", "25", "26", "27"],
    "KET_QUA": ["28", "29", "30"],
    "PAKN": ["31", "32", "33"],
}
COUNTERS = {
    "HN-00004-01": "00004",
    "HN-00004-02": "00004",
    "HN-00070-01": "00070",
    "HN-00082-01": "00082",
}
RESPONDENTS = {"HN-00004-01": 40, "HN-00004-02": 25, "HN-00070-01": 36, "HN-00082-01": 33}


def paper_responses(seed: int) -> list[dict[str, str]]:
    """Plausible paper forms of November 2026: skips, both screeners, both respondent types."""
    rng = random.Random(seed)
    rows = []
    for counter, count in RESPONDENTS.items():
        for number in range(count):
            kind = "organisation" if number % 3 == 0 else "citizen"  # every cell shown
            row = {
                "external_id": f"{counter}-{number}",
                "service_point": counter,
                "completed_at": f"2026-11-{rng.randint(1, 27):02d}T{rng.randint(8, 16):02d}:15:00+07:00",
                "respondent_type": kind,
                "ket_qua_nhan": rng.choice(["yes", "yes", "no"]),
                "pakn_da_tung": rng.choice(["yes", "no", "no", "no"]),
            }
            mood = rng.choice([2, 3, 4, 4, 5])
            for element, items in ELEMENTS.items():
                if element == "KET_QUA" and row["ket_qua_nhan"] == "no":
                    continue
                if element == "PAKN" and row["pakn_da_tung"] == "no":
                    continue
                for item in items:
                    if rng.random() < 0.08:
                        row[item] = ""  # skipped
                    else:
                        row[item] = str(min(5, max(1, mood + rng.choice([-1, 0, 0, 1]))))
            answered = {value for key, value in row.items() if key.isdigit() and value}
            if len(answered) < 2:  # keep clear of the straight-lining flag
                row["15"] = "1" if "5" in answered else "5"
            rows.append(row)
    return rows


def reported(value: float) -> float:
    """A percentage as a report shows it: two decimals, halves rounded up."""
    return float(Decimal(repr(value)).quantize(Decimal("0.01"), ROUND_HALF_UP))


def wilson(successes: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * (centre - half), 100 * (centre + half)


class Expected(TypedDict, total=False):
    """The figures of one cell of the export, computed by hand."""

    n_respondents: int
    n_valid: int
    n_satisfied: int
    index_pct: float
    interval: tuple[float, float]


def reference(rows: list[dict[str, str]]) -> dict[tuple[str, str, str, str], Expected]:
    """(unit, respondent type, scope, code) → n_valid, n_satisfied, index, interval of items and elements."""
    cells: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        unit = COUNTERS[row["service_point"]]
        for kind in ("all", row["respondent_type"]):
            cells[(unit, kind)].append(row)
    expected: dict[tuple[str, str, str, str], Expected] = {}
    for (unit, kind), members in cells.items():
        element_indices = []
        for element, items in ELEMENTS.items():
            item_indices = []
            for item in items:
                values = [row.get(item, "") for row in members]
                valid = [value for value in values if value in {"1", "2", "3", "4", "5"}]
                satisfied = sum(value in {"4", "5"} for value in valid)
                if not valid:
                    continue
                index = 100 * satisfied / len(valid)
                item_indices.append(index)
                expected[(unit, kind, "item", item)] = {
                    "n_respondents": len(members),
                    "n_valid": len(valid),
                    "n_satisfied": satisfied,
                    "index_pct": index,
                    "interval": wilson(satisfied, len(valid)),
                }
            if item_indices:
                element_index = sum(item_indices) / len(item_indices)
                element_indices.append(element_index)
                expected[(unit, kind, "element", element)] = {"index_pct": element_index}
        expected[(unit, kind, "overall", "")] = {
            "n_respondents": len(members),
            "index_pct": sum(element_indices) / len(element_indices),
        }
    return expected


@pytest.mark.parametrize("seed", [11, 29])
def test_imported_paper_responses_come_out_of_the_export_as_computed_by_hand(
    seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIPAS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'sipas.db'}")
    runner = CliRunner()
    assert runner.invoke(cli, ["units", "load", "--sample"]).exit_code == 0
    header = runner.invoke(cli, ["responses", "template"]).output.strip().split(",")
    rows = paper_responses(seed)
    paper = tmp_path / "paper.csv"
    with paper.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)

    for command in (
        ["responses", "import", str(paper)],
        ["aggregate"],
        [
            "export",
            "--period",
            "2026-11",
            "--level",
            "commune",
            "--format",
            "csv",
            "--out",
            str(tmp_path / "out.csv"),
        ],
    ):
        result = runner.invoke(cli, command)
        assert result.exit_code == 0, result.output

    exported = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text(encoding="utf-8"))))
    expected = reference(rows)
    compared = 0
    for line in exported:
        key = (line["unit_code"], line["respondent_type"], line["scope"], line["code"])
        if key[0] not in set(COUNTERS.values()) or key not in expected:
            continue
        want = expected[key]
        assert (
            line["method_id"] == "sipas-2023-default" and line["questionnaire_version"] == "1.1.0"
        )
        if "n_respondents" in want:
            assert int(line["n_respondents"]) == want["n_respondents"], key
        if line["suppressed"] == "true":
            assert int(line["n_respondents"]) < 10 or key[1] != "all", key
            assert line["index_pct"] == "", key
            continue
        assert float(line["index_pct"]) == reported(want["index_pct"]), key
        if key[2] == "item":
            assert int(line["n_valid"]) == want["n_valid"], key
            assert int(line["n_satisfied"]) == want["n_satisfied"], key
            low, high = want["interval"]
            assert float(line["ci_low"]) == reported(low), key
            assert float(line["ci_high"]) == reported(high), key
        compared += 1
    assert compared > 200  # every cell of the three wards was compared
