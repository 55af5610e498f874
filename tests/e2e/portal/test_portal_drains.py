"""The Logs tab's drains panel over plain HTTP: the page asks for it, it shows the team's drains
that take the service's lines in that environment with their delivery state (delivered,
pending, lag, lost, last error), never a header value; another team gets 404."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from dockyard.domain.drain import DrainKind, DrainSpec, DrainState
from dockyard.domain.environment import Environment
from dockyard.domain.principal import Principal
from dockyard.store import drains
from tests.e2e.portal.conftest import World
from tests.e2e.portal.logs_support import logged_in

LOGS = "/teams/payments/services/api/logs"
PAYMENTS = Principal(token_id="seed", name="ci", team="payments")


def _seed(world: World) -> None:
    now = world.clock()
    specs: list[dict[str, Any]] = [
        {"name": "siem", "kind": DrainKind.HTTP, "url": "https://siem.example/in",
         "headers": (("Authorization", "Bearer hush-hush"),)},
        {"name": "otel", "kind": DrainKind.OTLP, "url": "http://otel:4318",
         "envs": (Environment.ONLINE,)},
        {"name": "ledger-only", "kind": DrainKind.SYSLOG, "url": "syslog://log:514",
         "services": ("ledger",)},
    ]  # fmt: skip
    with world.db.session() as session:
        for spec in specs:
            drain = drains.add_drain(session, PAYMENTS, DrainSpec(team="payments", **spec), now=now)
            if spec["name"] == "siem":
                state = DrainState(
                    delivered=1200,
                    pending=3,
                    lost=5,
                    oldest_undelivered=now - timedelta(seconds=42),
                    last_error="drain https://siem.example/in answered 503: busy",
                    last_error_at=now,
                    updated_at=now,
                )
                drains.write_state(session, drain.id, state)


def _cells(html: str) -> list[list[str]]:
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S)
    ]


def test_the_logs_page_asks_for_the_drains_panel(portal_url: str, world: World) -> None:
    with logged_in(portal_url, world.payments_token) as client:
        page = client.get(LOGS, params={"env": "test"}).text
    assert 'hx-get="/ui/teams/payments/services/api/logs/drains?env=test"' in page


def test_the_panel_shows_the_drains_taking_the_service_with_their_state(
    portal_url: str, world: World
) -> None:
    _seed(world)
    with logged_in(portal_url, world.payments_token) as client:
        test = client.get(LOGS + "/drains", params={"env": "test"})
        online = client.get(LOGS + "/drains", params={"env": "online"}).text
    assert test.status_code == 200, test.text
    (row,) = [c for c in _cells(test.text) if c]
    assert row[:5] + row[6:7] == ["siem", "http", "https://siem.example/in", "1200", "3", "5"]
    assert re.fullmatch(r"4\d s", row[5])  # 42 s when seeded; the page's clock runs on
    assert row[8].endswith("answered 503: busy")
    assert "hush-hush" not in test.text
    assert 'data-drain="otel"' in online and 'data-drain="ledger-only"' not in online
    assert 'hx-trigger="every 10s"' in test.text


def test_another_team_gets_404_for_the_panel(portal_url: str, world: World) -> None:
    _seed(world)
    with logged_in(portal_url, world.search_token) as client:
        answer = client.get(LOGS + "/drains", params={"env": "test"})
    assert answer.status_code == 404
    assert "siem" not in answer.text
