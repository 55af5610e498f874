"""The service page's endpoints: every environment's ready instances, kept fresh by the poller."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from dockyard.domain.environment import Environment
from dockyard.domain.status import EnvPhase, Health
from tests.e2e.portal.conftest import World, instance
from tests.e2e.portal.test_portal_service_page import open_service

pytestmark = pytest.mark.browser

TEST, ONLINE = Environment.TEST, Environment.ONLINE


def test_the_endpoints_of_every_environment_show_and_follow_the_controller(
    page: Page, portal_url: str, world: World
) -> None:
    world.write_status(
        "payments", "api", TEST, phase=EnvPhase.PROGRESSING, message="", revision=2, desired=2,
        instances=[
            instance("7f3a9c01d2", revision=2, ip="10.20.0.11"),
            instance("c95d02e6f1", revision=2, health=Health.STARTING, ip="10.20.0.13"),
        ],
    )  # fmt: skip
    world.write_status(
        "payments", "api", ONLINE, phase=EnvPhase.AVAILABLE, message="", revision=1, desired=1,
        instances=[instance("0a0b0c0d0e", revision=1, ip="10.30.0.5")],
    )  # fmt: skip
    open_service(page, portal_url, world.payments_token, TEST)

    rows = page.locator("#endpoints tbody tr")
    expect(rows).to_have_count(4)  # test's one, none in sandbox and stable, online's one
    first = page.locator("#endpoints tr[data-endpoint='7f3a9c01d2']")
    expect(first).to_contain_text("10.20.0.11:8080")
    expect(first).to_contain_text("r2")
    expect(first).to_contain_text("ago")
    expect(page.locator("#endpoints tr[data-endpoint='0a0b0c0d0e']")).to_contain_text("online")
    expect(page.locator("#endpoints tr.none[data-env=stable]")).to_contain_text("none ready")
    expect(page.locator("#endpoints tr[data-endpoint='c95d02e6f1']")).to_have_count(0)

    # The starting instance passes its check and the first one drains: no reload needed.
    world.write_status(
        "payments", "api", TEST, phase=EnvPhase.PROGRESSING, message="", revision=2, desired=2,
        instances=[
            instance("7f3a9c01d2", revision=2, health=Health.DRAINING, ip="10.20.0.11"),
            instance("c95d02e6f1", revision=2, ip="10.20.0.13"),
        ],
    )  # fmt: skip
    expect(page.locator("#endpoints tr[data-endpoint='c95d02e6f1']")).to_contain_text(
        "10.20.0.13:8080", timeout=4000
    )
    expect(page.locator("#endpoints tr[data-endpoint='7f3a9c01d2']")).to_have_count(0)
