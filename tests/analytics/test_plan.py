"""`sipas plan`: responses needed for a margin, checked against sums done by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from analytics.plan import VolumesError, plan, read_volumes, wilson_size, yamane_size
from bot.cli import cli

VOLUMES = (
    "authority,counter,month,dossiers\n"
    "00004,HN-00004-01,2026-11,600\n"
    "00004,HN-00004-02,11/2026,400\n"
    "HN-SNV,,2026-11,100\n"
)


@pytest.mark.parametrize(
    ("dossiers", "yamane", "wilson"),
    [
        # By hand, e = 0.05, z = 1.96: Yamane N/(1 + N·0.0025); Wilson n0 = z²·(1/(4e²) − 1)
        # = 3.8415·99 = 380.30, corrected n0/(1 + (n0 − 1)/N).
        (100, 80, 80),  # 100/1.25 = 80;   380.30/(1 + 379.30/100) = 79.34 → 80
        (400, 200, 196),  # 400/2 = 200;   380.30/1.9483 = 195.20 → 196
        (600, 240, 234),  # 600/2.5 = 240; 380.30/1.63217 = 233.005 → 234
        (1000, 286, 276),  # 1000/3.5 = 285.71 → 286; 380.30/1.3793 = 275.72 → 276
        (1_000_000, 400, 381),  # the infinite-population sizes: 1/e² and 380.30 → 381
        (0, 0, 0),
        (10, 10, 10),  # never more than the dossiers: ask everyone
    ],
)
def test_sizes_by_hand(dossiers: int, yamane: int, wilson: int) -> None:
    assert (yamane_size(dossiers, 0.05), wilson_size(dossiers, 0.05)) == (yamane, wilson)


def test_plan_per_counter_and_per_authority(tmp_path: Path) -> None:
    needs = plan(read_volumes(VOLUMES.encode(), source="volumes.csv"))
    rows = [(need.authority, need.counter, need.month.label, need.dossiers) for need in needs]
    assert rows == [
        ("00004", "HN-00004-01", "2026-11", 600),
        ("00004", "HN-00004-02", "2026-11", 400),
        ("00004", "", "2026-11", 1000),  # the authority: its counters added up
        ("HN-SNV", "", "2026-11", 100),
    ]
    assert [(need.yamane, need.wilson) for need in needs] == [
        (240, 234),
        (200, 196),
        (286, 276),
        (80, 80),
    ]
    # ±10 points: 1000/(1 + 1000·0.01) = 90.9 → 91; Wilson 3.8415·24 = 92.20,
    # 92.20/(1 + 91.20/1000) = 84.49 → 85.
    wide = plan(read_volumes(VOLUMES.encode(), source="volumes.csv"), 10)
    assert (wide[2].yamane, wide[2].wilson) == (91, 85)


def test_the_command_prints_and_writes_the_plan(tmp_path: Path) -> None:
    volumes = tmp_path / "volumes.csv"
    volumes.write_text(VOLUMES, encoding="utf-8")
    out = tmp_path / "plan.csv"
    result = CliRunner().invoke(cli, ["plan", str(volumes), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "N/(1+N·e²)" in result.output and "Wilson" in result.output
    assert out.read_text().splitlines()[3] == "00004,,2026-11,1000,286,276"


def test_bad_volumes_are_refused_row_by_row(tmp_path: Path) -> None:
    bad = "authority,counter,month,dossiers\n,HN-1,2026-13,many\n00004,,Q4/2026,5\n"
    with pytest.raises(VolumesError) as refused:
        read_volumes(bad.encode(), source="v.csv")
    assert [str(problem) for problem in refused.value.problems] == [
        "v.csv:2: authority: required (a unit or agency code)",
        "v.csv:2: month: not a month: “2026-13” (2026-11 or 11/2026)",
        "v.csv:2: dossiers: not a whole number of dossiers: “many”",
        "v.csv:3: month: not a month: “Q4/2026” (2026-11 or 11/2026)",
    ]
    volumes = tmp_path / "v.csv"
    volumes.write_text(bad, encoding="utf-8")
    result = CliRunner().invoke(cli, ["plan", str(volumes)])
    assert result.exit_code == 1 and "v.csv:3: month" in result.output
