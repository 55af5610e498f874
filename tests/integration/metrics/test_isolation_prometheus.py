"""Confined PromQL against the real Prometheus holding two teams' series: every attack that reads
the other team's series unconfined returns only the team's own once confined, and every
confined text is PromQL that Prometheus itself accepts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.metrics.isolation import confine
from tests.support.prometheus import prometheus, query, served, wait_for
from tests.unit.metrics.test_isolation import ATTACKS, CONFINED

pytestmark = pytest.mark.timeout(120)


def _two_teams(elapsed: float) -> str:
    lines = ["# TYPE cpu counter"]
    # bank's figures are all above 1000, shop's all below, whatever their labels say.
    for team, rate in (("shop", 1), ("bank", 100_000)):
        for instance in ("i1", "i2"):
            labels = f'team="{team}",env="test",instance="{instance}"'
            lines.append(f"cpu_total{{{labels}}} {100 + rate * elapsed:.3f}")
            lines.append(f"mem{{{labels}}} {rate * 100 + 1}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(_two_teams) as target, prometheus(tmp_path_factory.mktemp("prom"), target) as u:
        # rate() needs two samples of each series.
        wait_for("two scrapes", lambda: query(u, 'count_over_time(mem{team="bank"}[1m]) >= 2'))
        yield u


READS_OTHERS = [
    'cpu_total{team="bank"}',
    'cpu_total{team!="shop"}',
    'cpu_total{team=~"shop|bank"}',
    'cpu_total{team=~".*"}',
    '{__name__=~".+",team!=""}',
    'mem or mem{team="bank"}',
    'sum by (team) (rate(cpu_total{team=~".+"}[30s]))',
    'label_replace(mem{team="bank"}, "team", "shop", "", "")',
    'max_over_time(mem{team="bank"}[1m:1s])',
    'mem{team="bank"} offset 1s',
    'mem{team="bank"} @ end()',
]


@pytest.mark.parametrize("attack", READS_OTHERS)
def test_an_attack_reads_the_other_team_unconfined_and_only_its_own_confined(
    url: str, attack: str
) -> None:
    assert max(_values(query(url, attack))) >= BANK
    confined = query(url, confine(attack, "shop"))
    assert confined, "the team's own series are still there"
    assert max(_values(confined)) < BANK


BANK = 1000


def _values(result: list[dict[str, Any]]) -> list[float]:
    return [float(s["value"][1]) for s in result]


def test_absent_says_nothing_of_the_other_teams_series(url: str) -> None:
    assert query(url, 'absent(mem{team="bank"})') == []
    assert query(url, confine('absent(mem{team="bank"})', "nobody")) != []


@pytest.mark.parametrize(("written", "_"), CONFINED + ATTACKS)
def test_prometheus_accepts_every_confined_text(url: str, written: str, _: str) -> None:
    if " or env=" in written:
        pytest.skip("Prometheus 2.42 knows no `or` inside braces (3.x does)")
    query(url, confine(written, "shop"))
