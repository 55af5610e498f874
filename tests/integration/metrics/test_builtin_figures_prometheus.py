"""The built-in `cpu` alarm figure (metrics/alarm_rules.py) evaluated by a real Prometheus over
series shaped as the agent exports them: CPU used as a per cent of each instance's limit, and no
figure at all for an instance without a limit (so a `cpu` threshold never fires for it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dockyard.domain.alarm import Builtin, Comparison, Threshold
from dockyard.metrics.alarm_rules import threshold_expr
from tests.support.prometheus import instances_prometheus, query

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with instances_prometheus(tmp_path_factory.mktemp("prometheus")) as found:
        yield found


def _figure(metric: Builtin, team: str) -> str:
    return threshold_expr(Threshold(metric, Comparison.GE, 0), team=team, service="web", env="test")


@pytest.mark.parametrize(
    ("team", "expected"),
    [
        # alpha: web-1 has a 1-core limit, web-2 none; beta: web-1 has 4 cores.
        ("alpha", {"web-1": 100.0}),
        ("beta", {"web-1": 25.0}),
    ],
)
def test_cpu_is_the_cores_used_as_a_share_of_the_limit_and_absent_without_one(
    url: str, team: str, expected: dict[str, float]
) -> None:
    # One instant for both figures: a 1m rate over a window not yet full reads low alone.
    ratio = f"({_figure(Builtin.CPU, team)}) / ({_figure(Builtin.CPU_CORES, team)})"
    found = {s["metric"]["instance"]: float(s["value"][1]) for s in query(url, ratio)}
    assert found == {name: pytest.approx(value) for name, value in expected.items()}
