"""Charts: the spans a picker offers, the rate window, series aligned on one axis, every chart
expression confined to its team; and Prometheus's answers translated once by the reader."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from dockyard.domain.errors import Malformed, MetricsUnavailable
from dockyard.metrics.charts import (
    Series,
    Span,
    aligned,
    host_charts,
    memory_limit,
    rate_window,
    service_charts,
    span,
)
from dockyard.metrics.prometheus_api import PrometheusReader


@pytest.mark.parametrize(
    ("name", "step", "points"),
    [("15m", 7, 129), ("1h", 30, 121), ("6h", 180, 121), ("24h", 720, 121)],
)
def test_each_range_has_about_120_points_ending_now(name: str, step: int, points: int) -> None:
    drawn = span(name, end=1_000_000.5)
    assert (drawn.step_s, drawn.points, drawn.end) == (step, points, 1_000_000.5)


def test_an_unknown_range_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(Malformed, match="15m, 1h, 6h, 24h"):
        span("7d", end=0)


@pytest.mark.parametrize(("step", "scrape", "window"), [(7, 10, 40), (180, 10, 180), (7, 1, 7)])
def test_the_rate_window_spans_four_scrapes_and_a_step(
    step: int, scrape: float, window: int
) -> None:
    assert rate_window(step, scrape) == window


def test_series_are_aligned_on_the_span_with_gaps_as_none() -> None:
    axis = Span(end=100.0, seconds=40, step_s=10)  # 60, 70, 80, 90, 100
    result = [
        {"metric": {"instance": "web-2"}, "values": [[70.0, "1"], [90.001, "NaN"], [100, "3"]]},
        {"metric": {"instance": "web-1"}, "values": [[60, "5"], [130, "9"]]},
    ]
    assert aligned(result, by="instance", span=axis) == (
        Series("web-1", (5.0, None, None, None, None)),
        Series("web-2", (None, 1.0, None, None, 3.0)),
    )


def test_every_service_chart_reads_only_the_team_service_and_environment() -> None:
    charts = (*service_charts(team="shop", service='w"eb', env="test", window_s=40),
              memory_limit(team="shop", service='w"eb', env="test"))  # fmt: skip
    assert [(c.name, c.by) for c in charts] == [
        ("cpu", "instance"), ("cpu_of_limit", "instance"), ("memory", "instance"),
        ("network_rx", "instance"), ("network_tx", "instance"), ("restarts", "instance"),
        ("requests", "env"), ("errors", "env"), ("memory_limit", "instance"),
    ]  # fmt: skip
    for chart in charts:
        assert 'service="w\\"eb", env="test"' in chart.expr
        assert chart.expr.count("{") == chart.expr.count('team="shop"}')
    assert "rate(dockyard_instance_cpu_seconds_total{" in charts[0].expr
    assert "[40s]" in charts[0].expr


@pytest.mark.parametrize(
    ("name", "series"),
    [
        ("cpu_of_limit", ("rate(dockyard_instance_cpu_seconds_total{",
                          ") / sum by (instance) (dockyard_instance_cpu_limit_cores{")),
        ("requests", ("rate(haproxy_backend_http_requests_total{",)),
        ("errors", ('rate(haproxy_backend_http_responses_total{service="web", env="online", '
                    'code="5xx", team="shop"}[40s])',)),
    ],
)  # fmt: skip
def test_cpu_of_the_limit_and_the_balancers_rates_read_their_series(
    name: str, series: tuple[str, ...]
) -> None:
    chart = {c.name: c for c in service_charts(team="shop", service="web", env="online",
                                               window_s=40)}[name]  # fmt: skip
    assert all(one in chart.expr for one in series), chart.expr


def test_host_charts_are_per_host() -> None:
    charts = host_charts(window_s=40)
    assert [c.name for c in charts] == ["cpu", "memory", "load", "instances"]
    assert all(c.by == "host" and "team" not in c.expr for c in charts)


def _reader(status: int, body: bytes) -> PrometheusReader:
    transport = httpx.MockTransport(lambda _: httpx.Response(status, content=body))
    return PrometheusReader("http://prometheus.invalid", transport=transport)


def test_prometheus_refusing_a_query_is_malformed_with_its_reason() -> None:
    refused = _reader(400, b'{"status":"error","errorType":"bad_data","error":"bad step"}')
    with pytest.raises(Malformed, match="bad step"):
        asyncio.run(refused.instant("up"))


@pytest.mark.parametrize(
    ("status", "body"),
    [(503, b'{"status":"error","error":"query timed out"}'), (502, b"<html>proxy</html>")],
)
def test_prometheus_failing_is_metrics_unavailable(status: int, body: bytes) -> None:
    with pytest.raises(MetricsUnavailable):
        asyncio.run(_reader(status, body).range("up", start="0", end="1", step="1"))


def test_the_data_of_a_successful_answer_is_returned() -> None:
    ok = _reader(200, b'{"status":"success","data":{"resultType":"vector","result":[]}}')
    assert asyncio.run(ok.instant("up")) == {"resultType": "vector", "result": []}
