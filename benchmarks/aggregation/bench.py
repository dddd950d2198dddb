"""Aggregation benchmark: bulk-load completed responses, then time full and incremental aggregation.

Not a test. Loads N responses (~20 answers each) over the Hà Nội sample's counters and
30 days by a bulk path (sqlite3 executemany / asyncpg COPY, not the survey engine),
then measures, each in a fresh child process so peak RSS is the job's own:
- floor: the bare GROUP BY count of answers per (day, counter, type, channel, item, value);
- full: `aggregate(full=True)`: quality flags, daily counts, daily respondents;
- incremental: one new day of responses marked dirty, then the nightly run.

    python benchmarks/aggregation/bench.py --responses 50000            # quick
    python benchmarks/aggregation/bench.py                              # 1,000,000
    python benchmarks/aggregation/bench.py --backend postgres           # SIPAS_TEST_POSTGRES_URL
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from analytics.aggregate import aggregate
from analytics.layout import bundled_layout
from analytics.method import load_method
from questionnaires import load_bundled
from questionnaires.model import ItemType
from storage.db import Database
from storage.migrate import upgrade
from storage.response_facts import response_facts
from storage.units import load_sample

POSTGRES_URL = os.environ.get(
    "SIPAS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
FIRST_DAY = date(2026, 10, 1)
# The survey as a default deployment asks it (no sensitive item), so the loaded answers are
# those the engine would store: every item shown by the answers to its gates, with its codes.
QUESTIONNAIRE = load_bundled("sipas-2023").asking()
SCALE_VALUES = QUESTIONNAIRE.scale_values()
# How often each gate opens what it gates: the result (the outcome received), a complaint
# made, the priorities asked, the profile given.
GATES = {"ket_qua_nhan": 0.8, "pakn_da_tung": 0.3, "uu_tien": 0.5, "thong_tin": 0.7}
COMMENT = "Cán bộ tận tình, hướng dẫn rõ ràng."
FLOOR_SQL = """
SELECT r.reporting_day, r.service_point_code, r.respondent_type, r.channel, a.item_code,
       a.value, COUNT(*)
FROM answers a JOIN responses r ON r.session_id = a.session_id
GROUP BY r.reporting_day, r.service_point_code, r.respondent_type, r.channel, a.item_code, a.value
"""


def _stamp(day: date, second: int) -> str:
    # SQLAlchemy's SQLite storage format for UTC timestamps.
    hours, rest = divmod(second, 3600)
    return f"{day.isoformat()} {hours:02d}:{rest // 60:02d}:{rest % 60:02d}.000000"


def generate(
    count: int, days: list[date], points: list[str], first_id: int, seed: int
) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...], list[tuple[Any, ...]]]]:
    """(session row, response row, answer rows) for `count` completed responses."""
    rng = random.Random(seed)
    values = ["1", "2", "3", "4", "4", "4", "5", "5", "5", None]
    for offset in range(count):
        sid = first_id + offset
        day = days[offset * len(days) // count]
        point = rng.choice(points)
        channel = rng.choice(("telegram", "telegram", "zalo_oa", "zalo_bot"))
        kind = "organisation" if rng.random() < 0.2 else "citizen"
        # A few respondents come back to the same counter: repeats.
        key = f"k{rng.randrange(max(1, count // 50))}" if rng.random() < 0.02 else f"r{sid}"
        start = rng.randrange(3600, 10 * 3600)  # 08:00–17:00 local is 01:00–10:00 UTC
        gap = 1 if rng.random() < 0.01 else rng.randrange(3, 15)  # 1% speeders
        straight = rng.choice(("4", "5")) if rng.random() < 0.02 else None
        gates = {code: "yes" if rng.random() < share else "no" for code, share in GATES.items()}
        items: list[tuple[str, str | None]] = []
        for item in QUESTIONNAIRE.visible_items(gates):
            value: str | None
            if item.code in gates:
                value = gates[item.code]
            elif item.code == "respondent_type":
                value = kind
            elif item.type is ItemType.SCALE:
                value = straight or rng.choice(values)
            elif item.type is ItemType.TEXT:
                value = COMMENT if rng.random() < 0.1 else None
            else:
                value = rng.choice(item.option_values())
            items.append((item.code, value))
        answers = [
            (sid, code, value, _stamp(day, start + gap * (n + 1)))
            for n, (code, value) in enumerate(items)
        ]
        done = _stamp(day, start + gap * (len(items) + 1))
        # What the engine records at completion (the bulk path skips the engine, not this).
        facts = response_facts(
            SCALE_VALUES,
            dict(items),
            [datetime.fromisoformat(answered_at) for *_, answered_at in answers],
        )
        session = (
            sid,
            key,
            channel,
            "sipas-2023",
            "1.0.0",
            point,
            "vi",
            "completed",
            _stamp(day, start),
            done,
            done,
            1,
            False,
        )
        response = (
            sid,
            sid,
            point,
            kind,
            channel,
            "sipas-2023",
            "1.0.0",
            key,
            _stamp(day, start),
            done,
            day.isoformat(),
            float(gap * len(items)),
            False,
            facts.scale_answers,
            facts.uniform_value,
            facts.median_gap_seconds,
        )
        yield session, response, answers


SESSION_COLUMNS = (
    "id",
    "respondent_key",
    "channel",
    "questionnaire_id",
    "questionnaire_version",
    "service_point_code",
    "language",
    "status",
    "started_at",
    "last_activity_at",
    "completed_at",
    "version",
    "simulated",
)
RESPONSE_COLUMNS = (
    "id",
    "session_id",
    "service_point_code",
    "respondent_type",
    "channel",
    "questionnaire_id",
    "questionnaire_version",
    "respondent_key",
    "started_at",
    "completed_at",
    "reporting_day",
    "duration_seconds",
    "simulated",
    "scale_answers",
    "uniform_value",
    "median_gap_seconds",
)
ANSWER_COLUMNS = ("session_id", "item_code", "value", "answered_at")


def _insert(columns: tuple[str, ...], table: str) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def load_sqlite(
    path: Path, count: int, days: list[date], points: list[str], first_id: int, seed: int
) -> None:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    batch = 20_000
    rows = generate(count, days, points, first_id, seed)
    while True:
        chunk = [row for _, row in zip(range(batch), rows, strict=False)]
        if not chunk:
            break
        connection.executemany(
            _insert(SESSION_COLUMNS, "survey_sessions"), [s for s, _, _ in chunk]
        )
        connection.executemany(_insert(RESPONSE_COLUMNS, "responses"), [r for _, r, _ in chunk])
        connection.executemany(
            _insert(ANSWER_COLUMNS, "answers"), [a for _, _, rows_ in chunk for a in rows_]
        )
    for day in sorted({days[0], days[-1]} | set(days)):
        connection.execute(
            "INSERT OR REPLACE INTO dirty_days (day, marked_at) VALUES (?, ?)",
            (day.isoformat(), _stamp(day, 23 * 3600)),
        )
    connection.commit()
    # Fold the write-ahead log into the file, as a long-running deployment's checkpoints would.
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.execute("ANALYZE")
    connection.close()


async def load_postgres(
    schema: str, count: int, days: list[date], points: list[str], first_id: int, seed: int
) -> None:
    from datetime import UTC

    def instant(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    connection = await asyncpg.connect(
        POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    )
    await connection.execute(f'SET search_path TO "{schema}"')
    try:
        rows = generate(count, days, points, first_id, seed)
        batch = 50_000
        while True:
            chunk = [row for _, row in zip(range(batch), rows, strict=False)]
            if not chunk:
                break
            sessions = [
                (*s[:8], instant(s[8]), instant(s[9]), instant(s[10]), *s[11:]) for s, _, _ in chunk
            ]
            responses = [
                (*r[:8], instant(r[8]), instant(r[9]), date.fromisoformat(r[10]), *r[11:])
                for _, r, _ in chunk
            ]
            answers = [(a[0], a[1], a[2], instant(a[3])) for _, _, rows_ in chunk for a in rows_]
            await connection.copy_records_to_table(
                "survey_sessions", records=sessions, columns=SESSION_COLUMNS, schema_name=schema
            )
            await connection.copy_records_to_table(
                "responses", records=responses, columns=RESPONSE_COLUMNS, schema_name=schema
            )
            await connection.copy_records_to_table(
                "answers", records=answers, columns=ANSWER_COLUMNS, schema_name=schema
            )
        for day in days:
            await connection.execute(
                "INSERT INTO dirty_days (day, marked_at) VALUES ($1, now()) "
                "ON CONFLICT (day) DO UPDATE SET marked_at = now()",
                day,
            )
        await connection.execute(
            "SELECT setval(pg_get_serial_sequence('survey_sessions', 'id'), (SELECT max(id) FROM survey_sessions))"
        )
        await connection.execute(
            "SELECT setval(pg_get_serial_sequence('responses', 'id'), (SELECT max(id) FROM responses))"
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


# --- Child phases: each prints one JSON line with seconds and peak RSS ---------------------


def _peak_rss_mb() -> float:
    # The process's own peak (VmHWM): Linux keeps ru_maxrss across exec, so a phase started
    # from this bench's parent, which holds the generated rows, reported the parent's peak.
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _phase(args: argparse.Namespace) -> dict[str, Any]:
    if args.phase == "floor":
        started = time.perf_counter()
        if args.backend == "sqlite":
            connection = sqlite3.connect(args.db)
            rows = len(connection.execute(FLOOR_SQL).fetchall())
            connection.close()
        else:
            pg = await asyncpg.connect(
                POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
            )
            await pg.execute(f'SET search_path TO "{args.schema}"')
            rows = len(await pg.fetch(FLOOR_SQL))
            await pg.close()
        return {"seconds": time.perf_counter() - started, "rss_mb": _peak_rss_mb(), "groups": rows}
    url = f"sqlite+aiosqlite:///{args.db}" if args.backend == "sqlite" else POSTGRES_URL
    database = Database(url, schema=None if args.backend == "sqlite" else args.schema)
    method = load_method()
    layout = bundled_layout(method.questionnaire)
    started = time.perf_counter()
    result = await aggregate(database, layout, full=args.phase == "full")
    seconds = time.perf_counter() - started
    await database.dispose()
    return {
        "seconds": seconds,
        "rss_mb": _peak_rss_mb(),
        "days": len(result.days),
        "responses": result.responses,
        "flagged": result.flagged,
    }


def child(phase: str, backend: str, db: str, schema: str) -> dict[str, Any]:
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            "--phase",
            phase,
            "--backend",
            backend,
            "--db",
            db,
            "--schema",
            schema,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(output.stdout.strip().splitlines()[-1]))


async def prepare(
    backend: str, count: int, days: list[date], work: Path
) -> tuple[str, str, list[str]]:
    schema = f"sipas_bench_{secrets.token_hex(4)}"
    db = str(work / "bench.db")
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{db}"
        await upgrade(url)
        database = Database(url)
    else:
        connection = await asyncpg.connect(
            POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
        )
        await connection.execute(f'CREATE SCHEMA "{schema}"')
        await connection.close()
        await upgrade(POSTGRES_URL, schema=schema)
        database = Database(POSTGRES_URL, schema=schema)
    async with database.transaction() as session:
        await load_sample(session)
    from sqlalchemy import select

    from storage.models import ServicePoint

    async with database.reading() as session:
        points = list((await session.scalars(select(ServicePoint.code))).all())
    await database.dispose()
    return db, schema, points


async def drop_schema(schema: str) -> None:
    connection = await asyncpg.connect(
        POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    )
    await connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await connection.close()


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--responses", type=_positive, default=1_000_000)
    parser.add_argument("--days", type=_positive, default=30)
    parser.add_argument(
        "--incremental", type=_positive, default=35_000, help="responses on the new day"
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--phase", choices=("floor", "full", "incremental"), help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(asyncio.run(_phase(args))))
        return
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    days = [FIRST_DAY + timedelta(days=n) for n in range(args.days)]
    new_day = [FIRST_DAY + timedelta(days=args.days)]
    figures: list[tuple[str, dict[str, Any]]] = []
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="sipas-bench-") as folder:
            db, schema, points = asyncio.run(prepare(backend, args.responses, days, Path(folder)))
            try:
                started = time.perf_counter()
                if backend == "sqlite":
                    load_sqlite(Path(db), args.responses, days, points, 1, seed=1)
                else:
                    asyncio.run(load_postgres(schema, args.responses, days, points, 1, seed=1))
                load = time.perf_counter() - started
                answers = _count_answers(backend, db, schema)
                floor = child("floor", backend, db, schema)
                full = child("full", backend, db, schema)
                if backend == "sqlite":
                    load_sqlite(
                        Path(db), args.incremental, new_day, points, args.responses + 1, seed=2
                    )
                else:
                    asyncio.run(
                        load_postgres(
                            schema, args.incremental, new_day, points, args.responses + 1, seed=2
                        )
                    )
                incremental = child("incremental", backend, db, schema)
                figures.append(
                    (
                        backend,
                        {
                            "load": load,
                            "answers": answers,
                            "floor": floor,
                            "full": full,
                            "incremental": incremental,
                        },
                    )
                )
            finally:
                if backend == "postgres":
                    asyncio.run(drop_schema(schema))
    _print(args, figures)


def _count_answers(backend: str, db: str, schema: str) -> int:
    if backend == "sqlite":
        connection = sqlite3.connect(db)
        total = int(connection.execute("SELECT COUNT(*) FROM answers").fetchone()[0])
        connection.close()
        return total

    async def count() -> int:
        pg = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://"))
        total = await pg.fetchval(f'SELECT COUNT(*) FROM "{schema}".answers')
        await pg.close()
        return int(total)

    return asyncio.run(count())


def _print(args: argparse.Namespace, figures: list[tuple[str, dict[str, Any]]]) -> None:
    print(
        f"\n{args.responses:,} responses over {args.days} days; incremental day: {args.incremental:,} responses"
    )
    header = (
        f"{'backend':<9} {'answers':>12} {'load s':>8} {'floor s':>8} {'full s':>8} "
        f"{'full RSS MB':>12} {'full/floor':>11} {'incr s':>8} {'incr RSS MB':>12}"
    )
    print(header)
    print("-" * len(header))
    for backend, f in figures:
        print(
            f"{backend:<9} {f['answers']:>12,} {f['load']:>8.1f} {f['floor']['seconds']:>8.2f} "
            f"{f['full']['seconds']:>8.2f} {f['full']['rss_mb']:>12.0f} "
            f"{f['full']['seconds'] / f['floor']['seconds']:>11.2f} {f['incremental']['seconds']:>8.2f} "
            f"{f['incremental']['rss_mb']:>12.0f}"
        )
    print("targets (issue #24): full ≤ 20 s and ≤ 500 MB; incremental ≤ 1 s")


if __name__ == "__main__":
    main()
