"""The `/metrics` route: Prometheus figures of the survey service, behind a bearer token.

In-process figures (events by channel and outcome, engine latency) come from the
engine through `ServiceMetrics.event_handled`. With several worker processes they
are kept in files under PROMETHEUS_MULTIPROC_DIR, which `sipas serve --workers N`
sets for its workers, so whichever worker answers a scrape reports them all.
Figures that live in the database (open sessions, last aggregation success) are
read at scrape time, so they are the same from every worker.

The route exists only when a token is configured: the web app faces the Internet
for webhooks, and these counts are operational information, not public data.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable
from datetime import datetime

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from handlers.survey import Outcome
from storage.db import Database
from storage.sessions import count_open_sessions

__all__ = ["METRICS_PATH", "MULTIPROCESS_DIR_VARIABLE", "ServiceMetrics", "metrics_router"]

METRICS_PATH = "/metrics"
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Engine time per event: a few milliseconds normally, seconds when the database struggles.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

LastAggregation = Callable[[Database], Awaitable[datetime | None]]


class ServiceMetrics:
    """The in-process figures; an `EngineObserver` for the survey engine."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # A registry of its own: two services in one process (tests) never collide.
        self.registry = registry or CollectorRegistry()
        self.events = Counter(
            "sipas_events_handled",
            "Events handled by the survey engine, by channel and outcome.",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "sipas_duplicate_events",
            "Redelivered events recognised by the processed-events table and ignored.",
            ["channel"],
            registry=self.registry,
        )
        self.completed = Counter(
            "sipas_completed_responses",
            "Surveys completed (sessions turned into responses).",
            ["channel"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sipas_handle_seconds",
            "Time the survey engine spent on one event, its transaction included.",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def event_handled(self, channel: str, outcome: Outcome, seconds: float) -> None:
        """Count one event (called by the engine after its transaction)."""
        self.events.labels(channel, outcome.value).inc()
        self.latency.labels(channel).observe(seconds)
        if outcome is Outcome.DUPLICATE:
            self.duplicates.labels(channel).inc()
        elif outcome is Outcome.COMPLETED:
            self.completed.labels(channel).inc()

    def exposition(self) -> bytes:
        """The in-process figures, summed over every worker when running several."""
        if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


async def database_exposition(database: Database, last_aggregation: LastAggregation) -> bytes:
    """The figures read from the database at scrape time."""
    registry = CollectorRegistry()
    open_sessions = Gauge(
        "sipas_open_sessions",
        "Survey sessions open now (consent or active).",
        registry=registry,
    )
    last_success = Gauge(
        "sipas_last_aggregation_success_timestamp_seconds",
        "Start time of the last successful aggregation run (0: none yet).",
        registry=registry,
    )
    async with database.reading() as session:
        open_sessions.set(await count_open_sessions(session))
    last = await last_aggregation(database)
    last_success.set(last.timestamp() if last is not None else 0)
    return generate_latest(registry)


def metrics_router(
    metrics: ServiceMetrics,
    database: Database,
    *,
    token: str,
    last_aggregation: LastAggregation,
) -> APIRouter:
    """`GET /metrics` for a scraper presenting `Authorization: Bearer <token>`; 401 otherwise."""
    if not token:
        raise ValueError("a metrics route without a token would be public")
    expected = f"Bearer {token}".encode()
    router = APIRouter()

    @router.get(METRICS_PATH, include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        """The service's figures in the Prometheus text format."""
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return Response(
                "unauthorized\n", status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        body = metrics.exposition() + await database_exposition(database, last_aggregation)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router
