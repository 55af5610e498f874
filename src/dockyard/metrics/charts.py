"""The named charts of a service (per instance) and of the hosts (per host): their PromQL, built
here from metrics/definitions.py, and their series aligned on one time axis for uPlot.

The API's chart routes, the portal's service page and `dockyard top` all read these; a team's
chart expressions are confined to the team (metrics/isolation.py) like any PromQL it writes.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.domain.errors import Malformed
from dockyard.metrics import definitions as d
from dockyard.metrics.isolation import confine
from dockyard.metrics.prometheus_api import PrometheusReader

RANGES = {"15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 24 * 3600}
"""The time ranges a chart can show, by the name the picker and the API use."""
DEFAULT_RANGE = "1h"
POINTS = 120
"""Points per series: enough for a chart's width, few enough for a quick answer."""
REQUESTS = "haproxy_backend_http_requests_total"
"""HTTP requests a balancer backend (one route: TEAM.SERVICE.ENV) received."""
RESPONSES = "haproxy_backend_http_responses_total"
"""A backend's HTTP answers by `code` class: 1xx ... 5xx, other."""


@dataclass(frozen=True)
class Chart:
    """One chart: a series per value of `by`, in `unit`."""

    name: str
    title: str
    unit: str
    """"%", "bytes", "bytes/s", "count" or "count/s": how the portal and `top` format values."""
    expr: str
    by: str


@dataclass(frozen=True)
class Span:
    """The time axis of a drawing: `points` instants `step_s` apart, ending at `end`."""

    end: float
    seconds: int
    step_s: int

    @property
    def start(self) -> float:
        """Whole steps before `end`, so that the last instant is `end` itself."""
        return self.end - (self.points - 1) * self.step_s

    @property
    def points(self) -> int:
        return self.seconds // self.step_s + 1


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]
    """One per instant of the span; None where Prometheus has no value."""


@dataclass(frozen=True)
class Drawn:
    chart: Chart
    series: tuple[Series, ...]


def span(range_name: str, *, end: float) -> Span:
    """The span called `range_name` (15m, 1h, 6h, 24h) up to `end`, whose last instant is
    `end` itself: the newest figures are always in."""
    if range_name not in RANGES:
        raise Malformed(f"range {range_name!r} is not one of {', '.join(RANGES)}", field="range")
    seconds = RANGES[range_name]
    step = seconds // POINTS
    return Span(end=end, seconds=seconds, step_s=step)


def rate_window(step_s: float, scrape_interval_s: float) -> int:
    """A rate window that spans at least four scrapes (rate needs two samples) and a step."""
    return math.ceil(max(step_s, 4 * scrape_interval_s))


def _series(definition: d.Definition) -> str:
    # prometheus-client adds _total to a counter's name when it renders it.
    return definition.name + "_total" if definition.kind == "counter" else definition.name


def service_charts(*, team: str, service: str, env: str, window_s: int) -> tuple[Chart, ...]:
    """CPU (of one core, and of its limit where it has one), memory, network and restarts of
    each instance of a service in one environment, and the requests and 5xx answers per second
    its balancer routes saw (no series when it has none), all confined to `team`."""
    sel = "{" + f"service={json.dumps(service)}, env={json.dumps(env)}" + "}"

    def per_instance(inner: str) -> str:
        return f"sum by (instance) ({inner})"

    def rate(definition: d.Definition) -> str:
        return per_instance(f"rate({_series(definition)}{sel}[{window_s}s])")

    def of(expr: str) -> str:
        return confine(expr, team)

    cpu_of_limit = f"100 * {rate(d.CPU)} / {per_instance(d.CPU_LIMIT.name + sel)}"
    return (
        Chart("cpu", "CPU (of one core)", "%", of(f"100 * {rate(d.CPU)}"), "instance"),
        Chart("cpu_of_limit", "CPU (of its limit)", "%", of(cpu_of_limit), "instance"),
        Chart("memory", "Memory (working set)", "bytes",
              of(per_instance(f"{d.WORKING_SET.name}{sel}")), "instance"),
        Chart("network_rx", "Network received", "bytes/s", of(rate(d.NET_RX)), "instance"),
        Chart("network_tx", "Network sent", "bytes/s", of(rate(d.NET_TX)), "instance"),
        Chart("restarts", "Restarts", "count",
              of(per_instance(f"{_series(d.RESTARTS)}{sel}")), "instance"),
        *balancer_charts(sel, window_s=window_s, team=team),
    )  # fmt: skip


def balancer_charts(sel: str, *, window_s: int, team: str) -> tuple[Chart, ...]:
    """Requests and 5xx answers per second of the service's HTTP route in one environment,
    summed over every host's HAProxy (series named by HAProxy 2.6's exporter, labelled team,
    service and env by the scrape: prometheus_config.route_labels); one series, named for
    the environment."""
    sel_5xx = sel[:-1] + ', code="5xx"}'

    def per_second(series: str) -> str:
        return confine(f"sum by (env) (rate({series}[{window_s}s]))", team)

    return (
        Chart("requests", "Requests", "count/s", per_second(REQUESTS + sel), "env"),
        Chart("errors", "5xx answers", "count/s", per_second(RESPONSES + sel_5xx), "env"),
    )


def memory_limit(*, team: str, service: str, env: str) -> Chart:
    """Each instance's memory limit: `top` shows it beside the memory used."""
    sel = "{" + f"service={json.dumps(service)}, env={json.dumps(env)}" + "}"
    expr = confine(f"max by (instance) ({d.MEMORY_LIMIT.name}{sel})", team)
    return Chart("memory_limit", "Memory limit", "bytes", expr, "instance")


def host_charts(*, window_s: int) -> tuple[Chart, ...]:
    """CPU busy, memory used, load and instances of every host (for the admin: unconfined)."""
    cpu = _series(d.HOST_CPU)
    idle = f'sum by (host) (rate({cpu}{{mode="idle"}}[{window_s}s]))'
    busy = f"100 * (1 - {idle} / sum by (host) (rate({cpu}[{window_s}s])))"
    used = f"sum by (host) ({d.HOST_MEMORY.name}) - sum by (host) ({d.HOST_MEMORY_AVAILABLE.name})"
    return (
        Chart("cpu", "CPU busy", "%", busy, "host"),
        Chart("memory", "Memory used", "bytes", used, "host"),
        Chart("load", "Load (1 min)", "count", f'max by (host) ({d.HOST_LOAD.name}{{minutes="1"}})',
              "host"),
        Chart("instances", "Instances", "count", f"sum by (host) ({d.HOST_INSTANCES.name})",
              "host"),
    )  # fmt: skip


def aligned(result: Sequence[dict[str, Any]], *, by: str, span: Span) -> tuple[Series, ...]:
    """A matrix from Prometheus as one series per `by` value on the span's instants, sorted
    by name; instants without a value (and NaN) are None."""
    series = []
    for item in result:
        values: list[float | None] = [None] * span.points
        for at, raw in item.get("values", []):
            index = round((float(at) - span.start) / span.step_s)
            value = float(raw)
            if 0 <= index < span.points and math.isfinite(value):
                values[index] = value
        series.append(Series(str(item["metric"].get(by, "")), tuple(values)))
    return tuple(sorted(series, key=lambda s: s.name))


def as_json(range_name: str, span: Span, drawn: Sequence[Drawn]) -> dict[str, Any]:
    """A drawing as the API and the portal send it: one time axis (Unix seconds), and per
    chart its series' values on it, null where there are none."""
    return {
        "range": range_name,
        "step": span.step_s,
        "timestamps": [span.start + i * span.step_s for i in range(span.points)],
        "charts": [
            {"name": one.chart.name, "title": one.chart.title, "unit": one.chart.unit,
             "query": one.chart.expr,
             "series": [{"name": s.name, "values": list(s.values)} for s in one.series]}
            for one in drawn
        ],
    }  # fmt: skip


async def service_drawing(
    reader: PrometheusReader, range_name: str, *, team: str, service: str, env: str
) -> tuple[Span, list[Drawn]]:
    """The service's charts (`service_charts`) over the range called `range_name`, up to
    Prometheus's now, their rate windows fitted to its scrape interval."""
    drawing_span = span(range_name, end=reader.now())
    window = rate_window(drawing_span.step_s, reader.scrape_interval_s)
    wanted = service_charts(team=team, service=service, env=env, window_s=window)
    return drawing_span, await draw(reader, wanted, drawing_span)


async def host_drawing(reader: PrometheusReader, range_name: str) -> tuple[Span, list[Drawn]]:
    """The hosts' charts (`host_charts`) over the range called `range_name`, like
    `service_drawing`."""
    drawing_span = span(range_name, end=reader.now())
    window = rate_window(drawing_span.step_s, reader.scrape_interval_s)
    return drawing_span, await draw(reader, host_charts(window_s=window), drawing_span)


async def draw(reader: PrometheusReader, charts: Sequence[Chart], span: Span) -> list[Drawn]:
    """Every chart over `span`, its queries sent to Prometheus together."""

    async def one(chart: Chart) -> Drawn:
        data = await reader.range(
            chart.expr, start=f"{span.start:.3f}", end=f"{span.end:.3f}", step=f"{span.step_s}s"
        )
        return Drawn(chart, aligned(data.get("result", []), by=chart.by, span=span))

    return list(await asyncio.gather(*(one(chart) for chart in charts)))
