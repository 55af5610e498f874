"""The service page shows the declared log files and the multi-line rule of each environment's
current revision."""

from __future__ import annotations

import httpx

from dockyard.domain.environment import Environment
from dockyard.domain.logfiles import LogMultiline
from dockyard.domain.spec import ServiceSpec
from dockyard.store import services
from tests.e2e.portal.conftest import ADMIN, World

SERVICE = "/teams/payments/services/api"


def summary(client: httpx.Client, env: str) -> str:
    page = client.get(SERVICE, params={"env": env})
    assert page.status_code == 200
    return page.text.split('id="env-summary"', 1)[1].split("</dl>", 1)[0]


def test_service_page_shows_the_log_files_of_the_current_revision(
    payments_client: httpx.Client, world: World
) -> None:
    assert "Log files" not in summary(payments_client, "test")

    with world.db.session() as session:
        spec = ServiceSpec(
            image="registry.local:5000/payments/api:1.5.0",
            log_paths=("/app/logs/*.log", "/app/audit/a.log"),
            log_multiline=LogMultiline(start="^<E>"),
        )
        services.update_service(
            session, ADMIN, team="payments", name="api", spec=spec, now=world.clock()
        )
    world.deploy("payments", "api", Environment.TEST, image=spec.image, replicas=1)

    shown = summary(payments_client, "test")
    assert "<code>/app/logs/*.log</code> <code>/app/audit/a.log</code>" in shown
    assert "records start at <code>^&lt;E&gt;</code>" in shown  # escaped
    assert "Log files" not in summary(payments_client, "online")  # not redeployed there
