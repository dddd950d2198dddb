"""Dossier volumes and coverage from the command line: `sipas volumes load|list` and
`sipas coverage`, as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from storage.models import DossierVolume
from tests.survey_driver import OTHER_POINT, POINT
from tests.test_cli_procedures import database_url, stored  # noqa: F401  (a fixture)

HEADER = "service_point,day,authority,dossiers\n"
VOLUMES = (
    HEADER
    + f"{POINT},2026-11-28,,40\n"
    + f"{POINT},2026-11-28,HN-STP,12\n"
    + f"{OTHER_POINT},2026-11-29,,0\n"
)


def sipas(*args: str) -> Result:
    from bot.cli import cli

    return CliRunner().invoke(cli, list(args))


def volumes_file(tmp_path: Path, text: str = VOLUMES) -> str:
    path = tmp_path / "volumes.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_volumes_are_loaded_listed_and_replaced_on_reload(
    database_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    loaded = sipas("volumes", "load", volumes_file(tmp_path))
    assert loaded.exit_code == 0, loaded.output
    assert "volumes         3 added, 0 updated, 0 unchanged" in loaded.output
    corrected = VOLUMES.replace(",40\n", ",41\n")
    again = sipas("volumes", "load", volumes_file(tmp_path, corrected))
    assert "volumes         0 added, 1 updated, 2 unchanged" in again.output

    listed = json.loads(sipas("volumes", "list", "--period", "2026-11", "--json").output)
    assert listed == [
        {"service_point": POINT, "day": "2026-11-28", "authority": "00004", "dossiers": 41},
        {"service_point": POINT, "day": "2026-11-28", "authority": "HN-STP", "dossiers": 12},
        {"service_point": OTHER_POINT, "day": "2026-11-29", "authority": "00004", "dossiers": 0},
    ]
    plain = sipas("volumes", "list", "--period", "2026-11-29")
    assert plain.output.split() == ["2026-11-29", OTHER_POINT, "00004", "0"]


def test_a_bad_volumes_file_is_refused_one_line_per_problem_and_nothing_stored(
    database_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = volumes_file(
        tmp_path,
        HEADER
        + f"{POINT},2026-11-28,,40\n"
        + "HN-99999-01,2026-11-28,,3\n"
        + f"{POINT},28/11/2026,,3\n"
        + f"{POINT},2026-11-29,HN-NOWHERE,-2\n"
        + f"{POINT},2026-11-28,00004,5\n",
    )

    refused = sipas("volumes", "load", path)

    assert refused.exit_code == 1
    lines = refused.output.strip().splitlines()
    assert lines[:4] == [
        f"{path}:3: service_point: unknown service point 'HN-99999-01' (a counter code as "
        "`sipas units points` lists it)",
        f"{path}:4: day: '28/11/2026' is not a date (YYYY-MM-DD, e.g. 2025-07-01)",
        f"{path}:5: dossiers: '-2' is not a number of dossiers (a whole number ≥ 0)",
        f"{path}:6: day: {POINT}, 2026-11-28, 00004 given twice, first at 2 (one figure "
        "per counter, day and authority)",
    ]
    assert stored(database_url, DossierVolume) == []


def test_coverage_without_responses_shows_the_dossiers_and_no_coverage_yet(
    database_url: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIPAS_COVERAGE_TARGET_PCT", "50")
    sipas("volumes", "load", volumes_file(tmp_path))

    shown = json.loads(sipas("coverage", "--period", "2026-11", "--json").output)

    assert shown["target_pct"] == 50
    assert shown["authority"] == [
        {
            "code": "00004",
            "dossiers": 40,
            "responses": 0,
            "coverage_pct": 0.0,
            "below_target": True,
        },
        {
            "code": "HN-STP",
            "dossiers": 12,
            "responses": 0,
            "coverage_pct": 0.0,
            "below_target": True,
        },
    ]
    assert [row["code"] for row in shown["service_point"]] == [POINT, OTHER_POINT]
    assert shown["service_point"][1]["coverage_pct"] is None  # 0 dossiers
    table = sipas("coverage", "--period", "2026-11")
    assert "Coverage by authority, 2026-11" in table.output and "below" in table.output


def test_plan_without_a_file_uses_the_stored_volumes_of_the_months(
    database_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    sipas("volumes", "load", volumes_file(tmp_path))
    out = tmp_path / "plan.csv"

    planned = sipas("plan", "--period", "2026-11", "--out", str(out))
    nothing = sipas("plan", "--period", "2026-10")

    assert planned.exit_code == 0, planned.output
    # N = 40: 40 / (1 + 40 · 0.05²) = 36.4 → 37; N = 12: 12 / 1.03 = 11.7 → 12.
    assert out.read_text().splitlines() == [
        "authority,counter,month,dossiers,n_yamane,n_wilson",
        f"00004,{POINT},2026-11,40,37,37",
        f"00004,{OTHER_POINT},2026-11,0,0,0",
        "00004,,2026-11,40,37,37",
        f"HN-STP,{POINT},2026-11,12,12,12",
        "HN-STP,,2026-11,12,12,12",
    ]
    assert nothing.exit_code == 2
    assert "no dossier volumes stored for 2026-10" in nothing.output
