"""`sipas plan`: responses needed per authority, counter and month for a target margin, from dossier volumes."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import click
from rich import box
from rich.console import Console
from rich.table import Table

from analytics.plan import DEFAULT_MARGIN_POINTS, Need, plan, read_volumes
from analytics.wording import period_name


@click.command("plan")
@click.argument("volumes", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--margin",
    type=click.FloatRange(min=0, max=50, min_open=True, max_open=True),
    default=DEFAULT_MARGIN_POINTS,
    show_default=True,
    help="Target half-width of the 95% interval, in percentage points.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the plan as CSV (authority, counter, month, dossiers, n_yamane, n_wilson).",
)
def plan_command(volumes: Path, margin: float, out: Path | None) -> None:
    """Compute responses needed per authority, counter and month for a target margin.

    VOLUMES is a CSV of dossier volumes: authority, counter (blank for the authority as a
    whole), month (2026-11 or 11/2026), dossiers. For each row, and for each authority's
    month (its counters added up), two sample sizes at p = 0.5: the finite-population
    formula n = N/(1+N·e²), and the Wilson-based size (the smallest n whose Wilson 95%
    interval is within ±e, with the finite-population correction).

    \b
    Example:
      sipas plan volumes.csv --margin 5
    """
    needs = plan(read_volumes(volumes.read_bytes(), source=str(volumes)), margin)
    view = Table(
        title=f"Responses needed for ±{margin:g} percentage points at 95% (p = 0.5)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for heading in ("authority", "counter", "month", "dossiers N", "N/(1+N·e²)", "Wilson"):
        view.add_column(heading, justify="left" if heading in ("authority", "counter") else "right")
    for need in needs:
        view.add_row(
            need.authority,
            need.counter or "(all)",
            period_name(need.month, "en"),
            str(need.dossiers),
            str(need.yamane),
            str(need.wilson),
        )
    Console().print(view)
    if out is not None:
        out.write_text(plan_csv(needs), encoding="utf-8")
        click.echo(f"{out}  {len(needs)} rows")


def plan_csv(needs: list[Need]) -> str:
    """The plan as CSV text: one row per counter and per authority's month."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["authority", "counter", "month", "dossiers", "n_yamane", "n_wilson"])
    for need in needs:
        writer.writerow(
            [
                need.authority,
                need.counter,
                need.month.label,
                need.dossiers,
                need.yamane,
                need.wilson,
            ]
        )
    return buffer.getvalue()
