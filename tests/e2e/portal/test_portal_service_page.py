"""The service page: four environments, instances, scale, rollback, live updates, errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from dockyard.domain.environment import Environment
from dockyard.domain.status import EnvPhase, Health
from tests.e2e.portal.conftest import START, World, instance
from tests.e2e.portal.test_portal_login import log_in

pytestmark = pytest.mark.browser

TEST = Environment.TEST
ONLINE = Environment.ONLINE
SCREENSHOT = "/tmp/portal-service.png"


def rolling_out(world: World) -> None:
    """payments/api in test: revision 2 rolling out, one ready, one crashed, one starting."""
    world.write_status(
        "payments", "api", TEST,
        phase=EnvPhase.PROGRESSING, message="rolling out r2: 1 of 3 ready", revision=2, desired=3,
        instances=[
            instance("7f3a9c01d2", revision=2, ip="10.20.0.11"),
            instance(
                "b41e77c0aa", revision=2, health=Health.CRASHED, restarts=3, exit_code=137,
                last_log="starting api on :8080\nloading ledger cache\nKilled: out of memory",
                started=START - timedelta(seconds=40),
            ),
            instance("c95d02e6f1", revision=2, health=Health.STARTING, ip="10.20.0.13",
                     started=START - timedelta(seconds=8)),
        ],
        events=(("rollout", "rolling out r2 (deploy 1.5.0)"), ("crashed", "b41e77c0aa exited 137")),
    )  # fmt: skip


def open_service(page: Page, portal_url: str, token: str, env: Environment) -> None:
    log_in(page, portal_url, token)
    page.goto(f"{portal_url}/teams/payments/services/api?env={env.value}")


def test_service_page_shows_four_environments_and_instance_rows(
    page: Page, portal_url: str, world: World
) -> None:
    rolling_out(world)
    open_service(page, portal_url, world.payments_token, TEST)

    cards = page.locator(".env-card")
    assert cards.evaluate_all("cs => cs.map(c => c.dataset.env)") == [
        "test", "sandbox", "online", "stable",
    ]  # fmt: skip
    expect(cards.nth(0).locator(".badge")).to_have_text("progressing")
    expect(cards.nth(0).locator(".counts")).to_have_text("1/3")
    expect(cards.nth(1)).to_contain_text("not deployed")
    expect(page.locator("#env-summary dl")).to_contain_text("payments/api:1.5.0")
    rows = page.locator("table.instances tr[data-instance]")
    expect(rows).to_have_count(3)
    crashed = page.locator("tr[data-instance=b41e77c0aa]")
    expect(crashed.locator(".badge")).to_have_text("crashed")
    expect(crashed.locator("td").nth(7)).to_have_text("137")
    page.click("#log-b41e77c0aa-3 summary")
    expect(page.locator("#log-b41e77c0aa-3 pre")).to_contain_text("Killed: out of memory")
    expect(page.locator("table.history tr[data-revision]")).to_have_count(2)
    expect(page.locator("ol.events li")).to_have_count(2)
    page.screenshot(path=SCREENSHOT, full_page=True)


def test_scaling_from_the_page_creates_a_revision_and_notifies(
    page: Page, portal_url: str, world: World
) -> None:
    rolling_out(world)
    open_service(page, portal_url, world.payments_token, TEST)

    page.fill("#replicas", "5")
    page.click("form.scale button")

    expect(page.locator("#env-actions .notice.ok")).to_contain_text("test scaled to 5: revision 3")
    assert world.revisions("payments", "api", TEST)[0] == (3, "scale 3 -> 5", 5)
    assert world.notified == [world.key("payments", "api", TEST)]
    # Everything else on the page followed without a reload.
    expect(page.locator("#env-summary dl")).to_contain_text("r3")
    expect(page.locator("table.history tr[data-revision]").first).to_have_attribute(
        "data-revision", "3"
    )


def test_rollback_from_the_page_reapplies_the_previous_revision(
    page: Page, portal_url: str, world: World
) -> None:
    rolling_out(world)
    open_service(page, portal_url, world.payments_token, TEST)
    expect(page.locator("#rollback-to")).to_have_value("1")  # the default: the previous one

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("form.rollback button")

    expect(page.locator("#env-actions .notice.ok")).to_contain_text("rollback to 1")
    number, cause, replicas = world.revisions("payments", "api", TEST)[0]
    assert (number, cause, replicas) == (3, "rollback to 1", 2)
    assert world.notified == [world.key("payments", "api", TEST)]
    expect(page.locator("#env-summary dl")).to_contain_text("payments/api:1.4.0")


def test_status_written_by_the_controller_appears_without_reload(
    page: Page, portal_url: str, world: World
) -> None:
    rolling_out(world)
    open_service(page, portal_url, world.payments_token, TEST)
    expect(page.locator("#poller")).to_have_attribute("data-poll-seconds", "1")

    world.write_status(
        "payments", "api", TEST,
        phase=EnvPhase.AVAILABLE, message="3 of 3 ready", revision=2, desired=3,
        instances=[
            instance("7f3a9c01d2", revision=2, ip="10.20.0.11"),
            instance("c95d02e6f1", revision=2, ip="10.20.0.13"),
            instance("e0d1c2b3a4", revision=2, ip="10.20.0.14"),
        ],
        events=(("available", "r2 is available"),),
    )  # fmt: skip

    expect(page.locator("#env-summary .badge")).to_have_text("available", timeout=4000)
    expect(page.locator(".env-card[data-env=test] .counts")).to_have_text("3/3")
    expect(page.locator("tr[data-instance=e0d1c2b3a4]")).to_be_visible()
    expect(page.locator("tr[data-instance=b41e77c0aa]")).to_have_count(0)
    # Online still waits for the controller, so the page keeps polling fast until it is quiet.
    expect(page.locator("#poller")).to_have_attribute("data-poll-seconds", "1")
    world.write_status(
        "payments", "api", ONLINE, phase=EnvPhase.AVAILABLE, message="2 of 2 ready",
        revision=1, desired=2,
        instances=[instance("0a0b0c0d0e", revision=1), instance("1a1b1c1d1e", revision=1)],
    )  # fmt: skip
    expect(page.locator("#poller")).to_have_attribute("data-poll-seconds", "5")


def test_a_revision_made_elsewhere_refreshes_the_forms(
    page: Page, portal_url: str, world: World
) -> None:
    rolling_out(world)
    open_service(page, portal_url, world.payments_token, TEST)
    expect(page.locator("form.scale [name=expected_revision]")).to_have_value("2")

    world.deploy(
        "payments", "api", TEST, image="registry.local:5000/payments/api:1.6.0", replicas=4
    )

    expect(page.locator("form.scale [name=expected_revision]")).to_have_value("3", timeout=4000)
    expect(page.locator("#replicas")).to_have_value("4")
    page.fill("#replicas", "6")
    page.click("form.scale button")
    expect(page.locator("#env-actions .notice.ok")).to_contain_text("revision 4")


def test_a_concurrent_change_is_shown_inline_as_a_conflict(
    page: Page, portal_url: str, world: World
) -> None:
    rolling_out(world)
    open_service(page, portal_url, world.payments_token, TEST)
    # A page that has not polled since (slow network) still holds forms for revision 2.
    page.route("**/live?*", lambda route: route.abort())
    world.deploy(
        "payments", "api", TEST, image="registry.local:5000/payments/api:1.6.0", replicas=4
    )

    page.fill("#replicas", "5")
    page.click("form.scale button")

    notice = page.locator("#env-actions .notice.error")
    expect(notice).to_contain_text("Conflict")
    expect(notice).to_contain_text("revision 3, not 2")
    assert [n for n, _, _ in world.revisions("payments", "api", TEST)] == [3, 2, 1]
    assert world.notified == []
    # The answer redrew the forms for revision 3, so trying again now works.
    page.fill("#replicas", "5")
    page.click("form.scale button")
    expect(page.locator("#env-actions .notice.ok")).to_contain_text("revision 4")


def test_an_invalid_replica_count_is_shown_inline(
    page: Page, portal_url: str, world: World
) -> None:
    open_service(page, portal_url, world.payments_token, ONLINE)
    # The browser enforces max=500 itself; the server must refuse it all the same.
    page.eval_on_selector("#replicas", "input => input.removeAttribute('max')")

    page.fill("#replicas", "501")
    page.click("form.scale button")

    expect(page.locator("#env-actions .notice.error")).to_contain_text(
        "Replicas 501 is out of range: use 0-500"
    )
    assert [n for n, _, _ in world.revisions("payments", "api", ONLINE)] == [1]
    assert world.notified == []
