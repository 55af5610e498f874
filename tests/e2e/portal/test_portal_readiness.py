"""The service page says which check gates traffic to each environment's current revision."""

from __future__ import annotations

import httpx

from dockyard.domain.environment import Environment
from dockyard.domain.spec import HealthCheck, Port, ServiceSpec
from dockyard.store import services
from tests.e2e.portal.conftest import ADMIN, World

SERVICE = "/teams/payments/services/api"
IMAGE = "registry.local:5000/payments/api:1.5.0"


def readiness(client: httpx.Client, env: str) -> str:
    page = client.get(SERVICE, params={"env": env})
    assert page.status_code == 200
    summary = page.text.split('id="env-summary"', 1)[1].split("</dl>", 1)[0]
    return summary.split('class="readiness">', 1)[1].split("</dd>", 1)[0]


def deploy(world: World, spec: ServiceSpec) -> None:
    with world.db.session() as session:
        services.update_service(
            session, ADMIN, team="payments", name="api", spec=spec, now=world.clock()
        )
    world.deploy("payments", "api", Environment.TEST, image=spec.image, replicas=1)


def test_service_page_shows_the_default_tcp_check_and_a_given_one(
    payments_client: httpx.Client, world: World
) -> None:
    deploy(world, ServiceSpec(image=IMAGE, ports=(Port(container_port=8080),)))
    assert readiness(payments_client, "test") == "TCP connect to port 8080 (no health check given)"

    check = HealthCheck(http_path="/health")
    deploy(world, ServiceSpec(image=IMAGE, ports=(Port(container_port=8080),), health_check=check))
    given = "HTTP GET /health on port 8080 (health check given)"
    assert readiness(payments_client, "test") == given
