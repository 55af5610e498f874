"""Alarm rules as Prometheus evaluates them (pure): a rule's PromQL and the rule file holding
every team's rules, one group per service and environment.

A built-in threshold becomes PromQL over the agent's metric names (metrics/definitions.py),
selected by the rule's team, service and environment; a team's own expression goes through
`confine` first, so it reads that team's series only. Every alert carries team, service, env,
severity and dockyard_rule labels, set last so that no series can pass for another's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from dockyard.domain.alarm import AlarmRuleSpec, Builtin, Threshold
from dockyard.metrics import definitions as d
from dockyard.metrics.prometheus_config import duration

Confine = Callable[[str, str], str]
"""`confine(expr, team)`: the expression with every selector narrowed to the team's series."""
RULES_FILE = "alarms.yml"
"""The file under Prometheus's rules directory that holds every team's alarm rules."""
WINDOW = "10m"
"""What `restarts` and `oom_kills` count over."""
RATE = "1m"


def _series(definition: d.Definition) -> str:
    # prometheus-client renders a counter with `_total` after its declared name.
    return definition.name + ("_total" if definition.kind == "counter" else "")


def _builtin(metric: Builtin, selector: str) -> str:
    """The PromQL of a built-in figure, per instance, for series matching `selector`."""

    def s(definition: d.Definition) -> str:
        return f"{_series(definition)}{selector}"

    match metric:
        case Builtin.CPU:
            return f"100 * rate({s(d.CPU)}[{RATE}]) / {s(d.CPU_LIMIT)}"
        case Builtin.CPU_CORES:
            return f"rate({s(d.CPU)}[{RATE}])"
        case Builtin.CPU_THROTTLED:
            throttled = f"rate({s(d.CPU_THROTTLED)}[{RATE}])"
            return f"100 * {throttled} / (rate({s(d.CPU_PERIODS)}[{RATE}]) > 0)"
        case Builtin.MEMORY:
            return f"100 * {s(d.WORKING_SET)} / {s(d.MEMORY_LIMIT)}"
        case Builtin.RESTARTS:
            return f"increase({s(d.RESTARTS)}[{WINDOW}])"
        case Builtin.OOM_KILLS:
            return f"increase({s(d.OOM_KILLS)}[{WINDOW}])"
        case Builtin.HEALTH_FAILING:
            return s(d.HEALTH_FAILING)
        case Builtin.PIDS:
            return s(d.PIDS)


def _number(value: float) -> str:
    return repr(int(value)) if value == int(value) else repr(value)


def threshold_expr(threshold: Threshold, *, team: str, service: str, env: str) -> str:
    """`threshold` as PromQL over the one service's instances in one environment."""
    selector = "{" + f'team="{team}",service="{service}",env="{env}"' + "}"
    figure = _builtin(threshold.metric, selector)
    return f"({figure}) {threshold.op} {_number(threshold.value)}"


def rule_expr(spec: AlarmRuleSpec, confine: Confine) -> str:
    """The PromQL Prometheus evaluates for `spec`, confined to the team's own series."""
    if spec.threshold is not None:
        # Written here with exact team, service and env matchers: nothing to confine.
        return threshold_expr(spec.threshold, team=spec.team, service=spec.service, env=spec.env)
    assert spec.expr is not None  # AlarmRuleSpec holds exactly one of the two
    return confine(spec.expr, spec.team)


def alert_labels(spec: AlarmRuleSpec) -> dict[str, str]:
    """The labels of every alert of `spec`: the team's own, then Dockyard's over them."""
    return {
        **dict(spec.labels),
        "team": spec.team,
        "service": spec.service,
        "env": str(spec.env),
        "severity": str(spec.severity),
        "dockyard_rule": spec.name,
    }


def alerting_rule(spec: AlarmRuleSpec, confine: Confine) -> dict[str, Any]:
    """One Prometheus alerting rule for `spec`."""
    summary = spec.summary or f"{spec.name} of {spec.service} in {spec.env}"
    return {
        "alert": spec.name,
        "expr": rule_expr(spec, confine),
        "for": duration(spec.for_s),
        "labels": alert_labels(spec),
        "annotations": {"summary": summary},
    }


def group_name(team: str, service: str, env: str) -> str:
    return f"{team}/{service}/{env}"


def rule_file(specs: Iterable[AlarmRuleSpec], confine: Confine) -> dict[str, Any]:
    """A rule file's content: one group per (team, service, env), groups and rules in name
    order so that the same rules always give the same text."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for spec in sorted(specs, key=lambda s: (s.team, s.service, s.env, s.name)):
        key = group_name(spec.team, spec.service, spec.env)
        groups.setdefault(key, []).append(alerting_rule(spec, confine))
    return {"groups": [{"name": name, "rules": rules} for name, rules in groups.items()]}


def render(content: dict[str, Any]) -> str:
    """A rule file's text: JSON, which Prometheus reads as YAML."""
    return json.dumps(content, indent=2, sort_keys=True) + "\n"
