"""The service page shows the CPU, memory and pids limits each instance of the current revision
gets, and whether the service set each or the environment's default did."""

from __future__ import annotations

import httpx

from dockyard.domain.environment import Environment
from dockyard.domain.spec import Resources, ServiceSpec
from dockyard.store import env_defaults, services
from tests.e2e.portal.conftest import ADMIN, World

SERVICE = "/teams/payments/services/api"


def limits(client: httpx.Client, env: str) -> str:
    page = client.get(SERVICE, params={"env": env})
    assert page.status_code == 200
    return page.text.split('class="limits">', 1)[1].split("</dd>", 1)[0]


def test_service_page_shows_each_limit_and_where_it_came_from(
    payments_client: httpx.Client, world: World
) -> None:
    with world.db.session() as session:
        spec = ServiceSpec(
            image="registry.local:5000/payments/api:1.6.0",
            resources=Resources(memory_mb=768),
            resources_own=("memory_mb",),
        )
        services.update_service(
            session, ADMIN, team="payments", name="api", spec=spec, now=world.clock()
        )
        env_defaults.set_defaults(
            session, ADMIN, env=Environment.TEST, cpus=1.5, pids=900, now=world.clock()
        )
    world.deploy("payments", "api", Environment.TEST, image=spec.image, replicas=2)

    assert limits(payments_client, "test") == (
        "1.5 CPU (test default) · 768 MiB (own) · 900 pids (test default)"
    )
