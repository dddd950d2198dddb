"""The /metrics route: bearer token, engine figures by channel and outcome, database gauges."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from handlers.events import InboundKind
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.db import Database
from storage.invitations import counter_payload
from tests.conftest import TEST_SECRET
from tests.survey_driver import POINT, Clock, Respondent, add_counters, engine_config
from web.app import create_app
from web.metrics import METRICS_PATH, MULTIPROCESS_DIR_VARIABLE, ServiceMetrics, metrics_router

TOKEN = "scrape-token-0123456789"
AGGREGATED_AT = datetime(2026, 11, 20, 18, 45, tzinfo=UTC)


async def last_aggregation(_database: Database) -> datetime | None:
    return AGGREGATED_AT


@pytest.fixture
def metrics(monkeypatch: pytest.MonkeyPatch) -> ServiceMetrics:
    monkeypatch.delenv(MULTIPROCESS_DIR_VARIABLE, raising=False)  # one process here
    return ServiceMetrics()


@pytest.fixture
async def client(metrics: ServiceMetrics, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        [metrics_router(metrics, database, token=TOKEN, last_aggregation=last_aggregation)]
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://service"
    ) as client:
        yield client


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get(METRICS_PATH, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN])
async def test_without_the_token_nothing_is_shown(
    client: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = await client.get(METRICS_PATH, headers=headers)

    assert response.status_code == 401
    assert "sipas" not in response.text


def test_a_route_without_a_token_is_refused(metrics: ServiceMetrics, database: Database) -> None:
    with pytest.raises(ValueError, match="public"):
        metrics_router(metrics, database, token="", last_aggregation=last_aggregation)


async def test_events_outcomes_duplicates_completions_and_open_sessions(
    client: httpx.AsyncClient, metrics: ServiceMetrics, database: Database
) -> None:
    await add_counters(database)
    engine = SurveyEngine(database, load_bundled(), engine_config(), observer=metrics)
    clock = Clock()
    payload = counter_payload(TEST_SECRET, POINT)
    finished = Respondent(engine, "1001", clock)
    await finished.complete(payload)
    halfway = Respondent(engine, "1002", clock)
    await halfway.start(payload)
    tap = halfway.inbound(InboundKind.CHOICE, "consent:yes")
    await halfway.send(tap)
    await halfway.send(tap)  # Telegram delivers it again

    figures = await scrape(client)

    processed = figures[
        ("sipas_events_handled_total", (("channel", "telegram"), ("outcome", "processed")))
    ]
    assert (
        figures[("sipas_events_handled_total", (("channel", "telegram"), ("outcome", "completed")))]
        == 1
    )
    assert figures[("sipas_completed_responses_total", (("channel", "telegram"),))] == 1
    assert figures[("sipas_duplicate_events_total", (("channel", "telegram"),))] == 1
    count = figures[("sipas_handle_seconds_count", (("channel", "telegram"),))]
    assert count == processed + 1 + 1  # + the completion + the duplicate
    assert figures[("sipas_open_sessions", ())] == 1
    assert (
        figures[("sipas_last_aggregation_success_timestamp_seconds", ())]
        == AGGREGATED_AT.timestamp()
    )


async def test_a_failed_event_is_counted_as_failed(
    client: httpx.AsyncClient, metrics: ServiceMetrics, database: Database
) -> None:
    engine = SurveyEngine(database, load_bundled(), engine_config(), observer=metrics)
    respondent = Respondent(engine, "1003", Clock())
    broken = Database("sqlite+aiosqlite:////nonexistent/dir/x.db")
    engine.database = broken
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
        await respondent.start(counter_payload(TEST_SECRET, POINT))
    await broken.dispose()

    figures = await scrape(client)

    assert (
        figures[("sipas_events_handled_total", (("channel", "telegram"), ("outcome", "failed")))]
        == 1
    )
