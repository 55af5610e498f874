"""The autoscaler on the real Docker engine: instances with a 0.2 CPU limit start burning CPU,
the agent's figures show it within a listing, the autoscaler scales the service up within
seconds (the new instances healthy), and back down once the load is gone and the down window
has passed. Scaling by hand then pauses it."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from dockyard.domain.autoscaling import Metric, Policy, Step
from tests.support.autoscaling import autoscaling_loop

pytestmark = [pytest.mark.docker, pytest.mark.timeout(180)]

POLICY = Policy(
    min_replicas=1, max_replicas=6, metric=Metric.CPU, target_percent=50.0,
    down_window_s=10.0, down_step=Step(100, percent=True),
)  # fmt: skip


async def test_a_cpu_load_step_scales_up_within_seconds_and_back_down_after_the_window(
    tmp_path: Path, docker_engine: docker.APIClient, test_image: str, docker_team: str
) -> None:
    async with autoscaling_loop(
        tmp_path, docker_engine, team=docker_team, image=test_image
    ) as loop:
        loop.deploy(2)
        await loop.wait_for(lambda: loop.ready(2), "two ready instances")
        loop.set_policy(POLICY)
        await loop.wait_for(lambda: loop.status().startswith("active"), "the first figures")
        assert loop.replicas() == 2  # idle: nothing to do (min 1 waits for the down window)

        loop.burn(on=True)  # each instance at its 0.2 CPU limit: 200 % of the 50 % target
        decided_s = await loop.wait_for(lambda: loop.replicas() >= 4, "a scale-up", timeout_s=20)
        ready_s = await loop.wait_for(
            lambda: loop.ready(loop.replicas()), "the new instances ready", timeout_s=30
        )
        assert decided_s < 10, f"scaled up {decided_s:.1f} s after the load step"
        current = loop.view().current
        assert current is not None and current.cause.startswith("autoscaler: cpu ")
        assert current.created_by.endswith("/autoscaler")
        print(f"load step -> decision {decided_s:.1f} s, -> ready {decided_s + ready_s:.1f} s")

        loop.burn(on=False)
        await loop.wait_for(lambda: loop.replicas() == 1, "scale-down to min", timeout_s=60)
        await loop.wait_for(lambda: loop.ready(1), "one instance left", timeout_s=30)

        loop.scale(3)
        await loop.wait_for(lambda: loop.status().startswith("paused: scaled to 3"), "the pause")
        assert loop.replicas() == 3
