"""The service page's charts in Chromium, from a real Prometheus: uPlot draws each instance of
the team's service (never another team's same-named one), the range picker redraws them, and
a Prometheus that does not answer reads "metrics unavailable"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect

from dockyard.metrics.prometheus_api import PrometheusReader
from dockyard.portal import PortalDeps, build_portal
from tests.e2e.portal.conftest import World
from tests.e2e.portal.test_portal_login import log_in
from tests.support.nats import free_port
from tests.support.prometheus import instances_prometheus
from tests.support.serving import serve

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]
SERIES = (
    ("payments", "api", "test", "api-1", "h1", 0.5, 100, 0),
    ("payments", "api", "test", "api-2", "h1", 0.25, 300, 1),
    ("search", "api", "test", "api-9", "h2", 2.0, 900, 7),
)


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with instances_prometheus(tmp_path_factory.mktemp("prometheus"), SERIES) as url:
        yield url


def _portal(world: World, reader: PrometheusReader) -> Iterator[str]:
    deps = PortalDeps(db=world.db, clock=world.clock, notify=world.notified.append, metrics=reader)
    app = FastAPI()
    app.mount("/ui", build_portal(deps))
    with serve(app) as url:
        yield f"{url}/ui"


def _inked_pixels(page: Page, chart: str) -> int:
    """Pixels uPlot painted on the chart's canvas (the axes and the lines)."""
    return int(
        page.evaluate(
            """(name) => {
                const canvas = document.querySelector(`[data-chart='${name}'] canvas`);
                const pixels = canvas.getContext('2d')
                    .getImageData(0, 0, canvas.width, canvas.height).data;
                let inked = 0;
                for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) inked++; }
                return inked;
            }""",
            chart,
        )
    )


def test_the_charts_draw_each_instance_with_real_data_and_follow_the_range(
    world: World, page: Page, prometheus_url: str
) -> None:
    reader = PrometheusReader(prometheus_url, scrape_interval_s=1.0)
    for url in _portal(world, reader):
        log_in(page, url, world.payments_token)
        page.goto(f"{url}/teams/payments/services/api?env=test")
        memory = page.locator("#chart-grid [data-chart='memory']")
        expect(memory).to_have_attribute("data-series", "api-1,api-2")
        expect(memory.locator(".u-title")).to_have_text("Memory (working set)")
        for name in ("cpu", "memory", "network_rx", "network_tx", "restarts"):
            box = page.locator(f"#chart-grid [data-chart='{name}']")
            expect(box.locator("canvas")).to_have_count(1)
            assert int(box.get_attribute("data-values") or 0) > 0, name
            assert _inked_pixels(page, name) > 1000, name
        expect(page.locator("#charts-status")).to_contain_text("Last 1h")
        # The legend shows the instances' figures, formatted in the chart's unit.
        expect(memory.locator(".u-legend")).to_contain_text("api-2")
        page.click("#charts button[data-range='15m']")
        expect(page.locator("#charts-status")).to_contain_text("Last 15m")
        expect(page.locator("#charts button[data-range='15m']")).to_have_attribute(
            "aria-pressed", "true"
        )
        assert int(memory.get_attribute("data-values") or 0) > 0


def test_prometheus_down_reads_metrics_unavailable(world: World, page: Page) -> None:
    nowhere = PrometheusReader(f"http://127.0.0.1:{free_port()}", scrape_interval_s=1.0)
    for url in _portal(world, nowhere):
        log_in(page, url, world.payments_token)
        page.goto(f"{url}/teams/payments/services/api?env=test")
        expect(page.locator("#charts-status")).to_contain_text("Metrics unavailable")
        expect(page.locator("#charts-status")).to_contain_text("Prometheus")
        expect(page.locator("#chart-grid canvas")).to_have_count(0)
        # The rest of the page is untouched.
        expect(page.locator("#env-details")).to_contain_text("Revision history")
