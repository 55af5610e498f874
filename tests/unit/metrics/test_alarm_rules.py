"""Alarm rules as Prometheus gets them: built-in thresholds as PromQL over the agent's series,
a team's own expression confined, the labels every alert carries, and promtool's verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.domain.alarm import AlarmRuleSpec, Builtin, Comparison, Severity, Threshold
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid, Malformed
from dockyard.metrics.alarm_rules import alerting_rule, render, rule_expr, rule_file
from dockyard.metrics.prometheus_config import PrometheusLayout
from dockyard.metrics.rule_check import check_rules, find_promtool
from dockyard.metrics.rule_publisher import RulePublisher, team_confine

SEL = '{team="shop",service="cart",env="online"}'


def _confine(expr: str, team: str) -> str:
    # Stands in for dockyard.metrics.isolation in these table tests: marks what it was given.
    return f"confined[{team}]({expr})"


def _rule(**changes: object) -> AlarmRuleSpec:
    fields: dict[str, object] = {
        "team": "shop", "service": "cart", "env": Environment.ONLINE, "name": "hot",
        "threshold": Threshold(Builtin.MEMORY, Comparison.GT, 85),
    }  # fmt: skip
    fields.update(changes)
    return AlarmRuleSpec(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("metric", "op", "value", "promql"),
    [
        (Builtin.MEMORY, Comparison.GT, 85,
         f"(100 * dockyard_instance_memory_working_set_bytes{SEL} / "
         f"dockyard_instance_memory_limit_bytes{SEL}) > 85"),
        (Builtin.CPU, Comparison.GT, 80,
         f"(100 * rate(dockyard_instance_cpu_seconds_total{SEL}[1m]) / "
         f"dockyard_instance_cpu_limit_cores{SEL}) > 80"),
        (Builtin.CPU_CORES, Comparison.GE, 1.5,
         f"(rate(dockyard_instance_cpu_seconds_total{SEL}[1m])) >= 1.5"),
        (Builtin.CPU_THROTTLED, Comparison.GT, 90,
         f"(100 * rate(dockyard_instance_cpu_throttled_periods_total{SEL}[1m]) / "
         f"(rate(dockyard_instance_cpu_periods_total{SEL}[1m]) > 0)) > 90"),
        (Builtin.RESTARTS, Comparison.GT, 3,
         f"(increase(dockyard_instance_restarts_total{SEL}[10m])) > 3"),
        (Builtin.OOM_KILLS, Comparison.GE, 1,
         f"(increase(dockyard_instance_oom_kills_total{SEL}[10m])) >= 1"),
        (Builtin.HEALTH_FAILING, Comparison.GE, 3,
         f"(dockyard_instance_health_failing_streak{SEL}) >= 3"),
        (Builtin.PIDS, Comparison.LT, 0.5, f"(dockyard_instance_pids{SEL}) < 0.5"),
    ],
)  # fmt: skip
def test_a_builtin_threshold_is_promql_over_the_services_own_series(
    metric: Builtin, op: Comparison, value: float, promql: str
) -> None:
    assert rule_expr(_rule(threshold=Threshold(metric, op, value)), _confine) == promql


def test_a_teams_expression_is_confined_to_its_team() -> None:
    rule = _rule(threshold=None, expr="up == 0")
    assert rule_expr(rule, _confine) == "confined[shop](up == 0)"


def test_every_alert_carries_dockyards_labels_over_the_teams_own() -> None:
    rule = _rule(severity=Severity.CRITICAL, labels=(("runbook", "r1"),), for_s=90)
    alert = alerting_rule(rule, _confine)
    assert alert["labels"] == {
        "runbook": "r1", "team": "shop", "service": "cart", "env": "online",
        "severity": "critical", "dockyard_rule": "hot",
    }  # fmt: skip
    assert alert["for"] == "90s"
    assert alert["alert"] == "hot"


@pytest.mark.parametrize(
    "changes",
    [
        {"labels": (("team", "other"),)},
        {"labels": (("bad-name", "x"),)},
        {"expr": "up"},  # and a threshold: one of the two only
        {"threshold": None},  # neither
        {"for_s": -1},
        {"name": "Not_A_Name"},
    ],
)
def test_a_rule_that_cannot_be_is_invalid(changes: dict[str, object]) -> None:
    with pytest.raises(Invalid):
        _rule(**changes)


def test_rule_file_groups_rules_per_service_and_environment_in_a_stable_order() -> None:
    rules = [
        _rule(name="b"),
        _rule(name="a"),
        _rule(name="c", env=Environment.TEST),
    ]
    content = rule_file(rules, _confine)
    assert [g["name"] for g in content["groups"]] == ["shop/cart/online", "shop/cart/test"]
    assert [r["alert"] for r in content["groups"][0]["rules"]] == ["a", "b"]
    assert render(content) == render(rule_file(list(reversed(rules)), _confine))
    json.loads(render(content))


needs_promtool = pytest.mark.skipif(
    find_promtool() is None, reason="promtool is missing: apt-get install prometheus"
)


@needs_promtool
@pytest.mark.parametrize("metric", list(Builtin))
def test_promtool_accepts_every_builtin_threshold(metric: Builtin) -> None:
    rule = _rule(threshold=Threshold(metric, Comparison.GT, 1))
    check_rules(render(rule_file([rule], _confine)))


@needs_promtool
def test_promtool_refuses_bad_promql_with_its_own_words() -> None:
    rule = _rule(threshold=None, expr="rate(up[5m]) >> 1")
    with pytest.raises(Malformed) as refused:
        check_rules(render(rule_file([rule], lambda expr, team: expr)))
    assert "parse error" in refused.value.message
    assert "/tmp" not in refused.value.message


def test_a_teams_rule_reads_only_its_own_series_whatever_team_it_names() -> None:
    rule = _rule(threshold=None, expr='sum(up{team=~"beta|alpha"}) by (team) > 0')
    promql = rule_expr(rule, team_confine)
    assert 'team="shop"' in promql
    assert "beta" not in promql


@needs_promtool
def test_a_confined_rule_passes_promtool_and_unreadable_promql_is_malformed(
    tmp_path: Path,
) -> None:
    publisher = RulePublisher(PrometheusLayout(tmp_path), "http://127.0.0.1:9", team_confine)
    publisher.check(_rule(threshold=None, expr="rate(http_requests_total[5m]) > 10"))
    with pytest.raises(Malformed) as refused:
        publisher.check(_rule(threshold=None, expr="rate(up[5m]) >> 1"))
    assert refused.value.field == "expr"
