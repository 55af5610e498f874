"""The service page shows the bandwidth limits of each environment's current revision."""

from __future__ import annotations

import httpx

from dockyard.domain.environment import Environment
from dockyard.domain.spec import Bandwidth, ServiceSpec
from dockyard.store import services
from tests.e2e.portal.conftest import ADMIN, World

SERVICE = "/teams/payments/services/api"


def summary(client: httpx.Client, env: str) -> str:
    page = client.get(SERVICE, params={"env": env})
    assert page.status_code == 200
    return page.text.split('id="env-summary"', 1)[1].split("</dl>", 1)[0]


def test_service_page_shows_the_limits_of_the_current_revision(
    payments_client: httpx.Client, world: World
) -> None:
    assert "out unlimited · in unlimited" in summary(payments_client, "test")

    with world.db.session() as session:
        spec = ServiceSpec(
            image="registry.local:5000/payments/api:1.5.0",
            bandwidth=Bandwidth(egress_mbit=30, ingress_mbit=20),
        )
        services.update_service(
            session, ADMIN, team="payments", name="api", spec=spec, now=world.clock()
        )
    world.deploy("payments", "api", Environment.TEST, image=spec.image, replicas=3)

    assert "out 30 Mbit/s · in 20 Mbit/s" in summary(payments_client, "test")
    # Not redeployed there:
    assert "out unlimited · in unlimited" in summary(payments_client, "online")
