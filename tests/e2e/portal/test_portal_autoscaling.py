"""The service page shows the selected environment's autoscaling: its policy, its state, and
the autoscaler's decisions with the figure each one used."""

from __future__ import annotations

from dataclasses import replace

import httpx

from dockyard.domain.autoscaling import Metric, Policy
from dockyard.domain.environment import Environment
from dockyard.store import autoscale_decisions, autoscaling
from tests.e2e.portal.conftest import ADMIN, World

SERVICE = "/teams/payments/services/api"


def card(client: httpx.Client, env: str) -> str:
    page = client.get(SERVICE, params={"env": env})
    assert page.status_code == 200
    return page.text.split('id="autoscaling"', 1)[1].split("</section>", 1)[0]


def test_the_service_page_shows_the_policy_state_and_scaling_history(
    payments_client: httpx.Client, world: World
) -> None:
    assert "No autoscaling in test" in card(payments_client, "test")
    world.deploy("payments", "api", Environment.TEST, image="payments/api:1", replicas=2)
    policy = Policy(min_replicas=1, max_replicas=8, metric=Metric.CPU, target_percent=70.0)
    with world.db.session() as session:
        autoscaling.put_policy(
            session, ADMIN, team="payments", service="api", env=Environment.TEST,
            policy=policy, now=world.clock(),
        )  # fmt: skip
    with world.db.session() as session:
        target = next(t for t in autoscaling.targets(session) if t.service == "api")
        autoscale_decisions.apply(
            session, target, replicas=4, figure=182.4, now=world.clock(),
            reason="autoscaler: cpu 182 % of target over 6 s → 2 → 4",
        )  # fmt: skip
        assert target.revision is not None
        later = replace(target, replicas=4, revision=target.revision + 1)
        autoscale_decisions.apply(
            session, later, replicas=8, figure=150.0, now=world.clock(),
            reason="autoscaler: cpu 150 % of target over 6 s → 4 → 8",
        )  # fmt: skip
    shown = card(payments_client, "test")
    assert '<polyline points="0.0,3.5 200.0,10.0"' in shown  # 182.4 then 150, top 200 %
    assert "1-8 instances, cpu 70 % of the limit" in shown
    assert "active" in shown
    assert "2 → 4" in shown and 'data-figure="182.4"' in shown and "182 % of target" in shown
    assert "autoscaler: cpu 182 % of target over 6 s → 2 → 4" in shown
    assert "No autoscaling in online" in card(payments_client, "online")
