"""Alarms in the portal over plain HTTP: the overview counts each service's firing alarms, the
service page lists the selected environment's alarms (firing first, who acknowledged, the
silence), and another environment's alarms stay off it."""

from __future__ import annotations

import re
from datetime import timedelta

from dockyard.domain.alarm import AlarmState, Notice
from dockyard.domain.principal import Principal
from dockyard.portal.service_page import ALARM_ROWS
from dockyard.store import alarms
from tests.e2e.portal.conftest import World
from tests.e2e.portal.logs_support import logged_in

PAYMENTS = Principal(token_id="seed", name="ci", team="payments")


def _notice(name: str, *, env: str, state: AlarmState, minutes: int, world: World) -> Notice:
    start = world.clock() - timedelta(minutes=minutes)
    return Notice(
        fingerprint=f"{name}-{env}",
        state=state,
        labels={"alertname": name, "team": "payments", "service": "api", "env": env,
                "severity": "critical"},
        annotations={"summary": f"{name} in {env}"},
        starts_at=start,
        ends_at=world.clock() if state is AlarmState.RESOLVED else None,
    )  # fmt: skip


def _seed(world: World) -> None:
    notices = [
        _notice("MemoryHigh", env="test", state=AlarmState.FIRING, minutes=30, world=world),
        _notice("Restarts", env="test", state=AlarmState.RESOLVED, minutes=5, world=world),
        _notice("LatencyHigh", env="online", state=AlarmState.FIRING, minutes=1, world=world),
    ]
    with world.db.session() as session:
        changes = alarms.record(session, notices, now=world.clock())
        first = changes[0].alarm.id
        alarms.acknowledge(session, PAYMENTS, "payments", first, now=world.clock())


def _rows(html: str) -> list[list[str]]:
    section = html.split('id="alarms"', 1)[1].split("</section>", 1)[0]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", section, re.S)
    ]


def test_the_service_page_lists_its_environments_alarms_firing_first(
    portal_url: str, world: World
) -> None:
    _seed(world)
    with logged_in(portal_url, world.payments_token) as client:
        page = client.get("/teams/payments/services/api", params={"env": "test"}).text
    rows = [row for row in _rows(page) if row]
    assert [(r[1], r[2]) for r in rows] == [("firing", "MemoryHigh"), ("resolved", "Restarts")]
    assert rows[0][6] == "payments/ci"
    assert "1 firing" in page
    assert "LatencyHigh" not in page


def test_the_overview_counts_each_services_firing_alarms(portal_url: str, world: World) -> None:
    _seed(world)
    with logged_in(portal_url, world.payments_token) as client:
        page = client.get("/").text
    row = page.split('data-service="api"', 1)[1].split("</tr>", 1)[0]
    assert "2 firing" in row  # test and online; the resolved one is not counted


def test_newer_resolved_alarms_do_not_push_a_firing_one_off_the_service_page(
    portal_url: str, world: World
) -> None:
    firing = _notice("MemoryHigh", env="test", state=AlarmState.FIRING, minutes=60, world=world)
    resolved = [
        _notice(f"Flap{n}", env="test", state=AlarmState.RESOLVED, minutes=50 - n, world=world)
        for n in range(ALARM_ROWS + 2)
    ]
    with world.db.session() as session:
        alarms.record(session, [firing, *resolved], now=world.clock())
    with logged_in(portal_url, world.payments_token) as client:
        page = client.get("/teams/payments/services/api", params={"env": "test"}).text
    rows = [row for row in _rows(page) if row]
    assert len(rows) == ALARM_ROWS
    assert (rows[0][1], rows[0][2]) == ("firing", "MemoryHigh")
    # Then the newest resolved ones.
    assert [r[2] for r in rows[1:3]] == [f"Flap{ALARM_ROWS + 1}", f"Flap{ALARM_ROWS}"]
