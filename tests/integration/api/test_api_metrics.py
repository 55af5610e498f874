"""The metrics query API and the named charts, against a real Prometheus holding two teams'
series: a team reads only its own (whatever PromQL it writes), the admin everything; bad PromQL
answers 400 and a Prometheus that does not answer 503 metrics_unavailable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dockyard.api import ApiDeps, build_api
from dockyard.metrics.prometheus_api import PrometheusReader
from dockyard.store.db import Database
from tests.support.nats import free_port
from tests.support.prometheus import MIB, RX_BYTES_S, instances_prometheus

from .api_support import API, MovableClock, make_team

pytestmark = pytest.mark.timeout(120)
QUERY, RANGE = f"{API}/metrics/query", f"{API}/metrics/query_range"
CHARTS = f"{API}/teams/alpha/services/web/charts"


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with instances_prometheus(tmp_path_factory.mktemp("prometheus")) as url:
        yield url


@pytest.fixture
def clock() -> MovableClock:
    # Charts end at the clock's now: Prometheus holds only the last seconds.
    return MovableClock(datetime.now(UTC))


@pytest.fixture
def metrics_client(db: Database, clock: MovableClock, prometheus_url: str) -> Iterator[TestClient]:
    deps = ApiDeps(db=db, clock=clock, notify=lambda _: None,
                   metrics=PrometheusReader(prometheus_url, scrape_interval_s=1.0))  # fmt: skip
    with TestClient(build_api(deps), raise_server_exceptions=False) as client:
        yield client


def _teams(answer: Any) -> set[str]:
    assert answer.status_code == 200, answer.text
    return {s["metric"].get("team") for s in answer.json()["data"]["result"]}


def test_a_team_query_reads_only_its_own_series_whatever_it_writes(
    metrics_client: TestClient, admin: dict[str, str], alpha: dict[str, str]
) -> None:
    for written in (
        "dockyard_instance_memory_working_set_bytes",
        'dockyard_instance_memory_working_set_bytes{team="beta"}',
        'dockyard_instance_memory_working_set_bytes{team=~".+"}',
        '{__name__=~"dockyard_instance_.+"} or {team="beta"}',
    ):
        answer = metrics_client.get(QUERY, params={"query": written}, headers=alpha)
        assert _teams(answer) == {"alpha"}, written
        assert 'team="alpha"' in answer.json()["query"]
    everything = metrics_client.get(
        QUERY, params={"query": "dockyard_instance_memory_working_set_bytes"}, headers=admin
    )
    assert _teams(everything) == {"alpha", "beta"}


def test_a_range_query_is_confined_too(
    metrics_client: TestClient, clock: MovableClock, alpha: dict[str, str]
) -> None:
    now = clock().timestamp()
    params = {"query": 'rate(dockyard_instance_cpu_seconds_total{team="beta"}[5s])',
              "start": f"{now - 60:.0f}", "end": f"{now:.0f}", "step": "2"}  # fmt: skip
    answer = metrics_client.get(RANGE, params=params, headers=alpha)
    assert _teams(answer) == {"alpha"}
    assert answer.json()["data"]["resultType"] == "matrix"


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"query": "sum(rate("}, "invalid PromQL"),
        ({"query": "rate(dockyard_instance_pids)"}, "invalid PromQL"),
        ({"query": "up", "time": "yesterday"}, "Prometheus refused the query"),
    ],
)
def test_bad_promql_or_time_answers_400_with_the_reason(
    metrics_client: TestClient, alpha: dict[str, str], params: dict[str, str], reason: str
) -> None:
    answer = metrics_client.get(QUERY, params=params, headers=alpha)
    assert answer.status_code == 400
    assert answer.json()["error"] == "malformed_query"
    assert reason in answer.json()["message"]


def test_prometheus_down_answers_503_metrics_unavailable(
    db: Database, clock: MovableClock, alpha: dict[str, str]
) -> None:
    nowhere = PrometheusReader(f"http://127.0.0.1:{free_port()}", scrape_interval_s=1.0)
    deps = ApiDeps(db=db, clock=clock, notify=lambda _: None, metrics=nowhere)
    with TestClient(build_api(deps), raise_server_exceptions=False) as client:
        for url, params in ((QUERY, {"query": "up"}), (CHARTS, {"env": "test"})):
            answer = client.get(url, params=params, headers=alpha)
            assert answer.status_code == 503
            assert answer.json()["error"] == "metrics_unavailable"
            assert "Prometheus" in answer.json()["message"]


def _last(chart: dict[str, Any]) -> dict[str, float]:
    found = {}
    for series in chart["series"]:
        values = [v for v in series["values"] if v is not None]
        found[series["name"]] = values[-1]
    return found


def test_service_charts_give_each_instance_of_the_team_its_series(
    metrics_client: TestClient, alpha: dict[str, str]
) -> None:
    answer = metrics_client.get(CHARTS, params={"env": "test", "range": "15m"}, headers=alpha)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    charts = {c["name"]: c for c in body["charts"]}
    assert list(charts) == ["cpu", "cpu_of_limit", "memory", "network_rx", "network_tx",
                            "restarts", "requests", "errors"]  # fmt: skip
    assert body["step"] == 7 and len(body["timestamps"]) == 900 // 7 + 1
    assert all(len(s["values"]) == len(body["timestamps"]) for s in charts["cpu"]["series"])
    # beta's web-1 (900 MiB, 7 restarts) is never in alpha's charts.
    assert _last(charts["memory"]) == {"web-1": 100 * MIB, "web-2": 120 * MIB}
    assert _last(charts["restarts"]) == {"web-1": 0, "web-2": 3}
    cpu = _last(charts["cpu"])
    assert cpu["web-1"] == pytest.approx(50, rel=0.2)
    assert cpu["web-2"] == pytest.approx(25, rel=0.2)
    assert _last(charts["network_rx"])["web-1"] == pytest.approx(RX_BYTES_S, rel=0.2)
    # web-1 uses 0.5 of its 1 core; web-2 has no CPU limit, so no share of one.
    of_limit = _last(charts["cpu_of_limit"])
    assert set(of_limit) == {"web-1"} and of_limit["web-1"] == pytest.approx(50, rel=0.2)
    # alpha's route only (beta's answers 100/s), one series named for the environment.
    assert _last(charts["requests"]) == {"test": pytest.approx(12, rel=0.2)}
    assert _last(charts["errors"]) == {"test": pytest.approx(3, rel=0.2)}


def test_the_balancer_charts_are_empty_for_a_service_without_a_route(
    metrics_client: TestClient, alpha: dict[str, str]
) -> None:
    answer = metrics_client.get(CHARTS, params={"env": "online", "range": "15m"}, headers=alpha)
    assert answer.status_code == 200, answer.text
    charts = {c["name"]: c for c in answer.json()["charts"]}
    assert charts["requests"]["series"] == [] and charts["errors"]["series"] == []


def test_charts_of_another_team_or_an_unknown_range_are_refused(
    metrics_client: TestClient, admin: dict[str, str], alpha: dict[str, str]
) -> None:
    make_team(metrics_client, admin, "beta")
    beta = metrics_client.get(
        f"{API}/teams/beta/services/web/charts", params={"env": "test"}, headers=alpha
    )
    assert beta.status_code == 404
    week = metrics_client.get(CHARTS, params={"env": "test", "range": "7d"}, headers=alpha)
    assert week.status_code == 400 and week.json()["field"] == "range"


def test_host_charts_are_the_admins(
    metrics_client: TestClient, admin: dict[str, str], alpha: dict[str, str]
) -> None:
    assert metrics_client.get(f"{API}/hosts/charts", headers=alpha).status_code == 403
    answer = metrics_client.get(f"{API}/hosts/charts", params={"range": "15m"}, headers=admin)
    assert answer.status_code == 200, answer.text
    charts = {c["name"]: c for c in answer.json()["charts"]}
    assert _last(charts["memory"]) == {"h1": 3072 * MIB, "h2": 3072 * MIB}
    busy = _last(charts["cpu"])
    assert busy["h1"] == pytest.approx(75, rel=0.1) and busy["h2"] == pytest.approx(25, rel=0.1)
