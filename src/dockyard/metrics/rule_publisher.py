"""Puts the teams' alarm rules before Prometheus: checks a rule with promtool, writes the rule
file (atomically) and asks Prometheus to reload it.

Which process writes: the server that got the change writes the file at once, from every rule
in the database (not just the one changed), so the answer to the team means "Prometheus has
it"; `dockyard up` writes it too, and the server writes it at start, so a file lost or written
by a server that raced another converges at the next change or start. The file is whole or
absent at every moment (metrics/config_file.py), so Prometheus never reads half of it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from dockyard.domain.alarm import AlarmRuleSpec
from dockyard.domain.errors import Invalid, Malformed
from dockyard.metrics.alarm_rules import RULES_FILE, Confine, render, rule_file
from dockyard.metrics.config_file import write_if_changed
from dockyard.metrics.isolation import confine
from dockyard.metrics.prometheus_config import PrometheusLayout
from dockyard.metrics.rule_check import check_rules

log = logging.getLogger("dockyard.alarms")
RELOAD_S = 30.0


def team_confine(expr: str, team: str) -> str:
    """`expr` narrowed to `team`'s own series (metrics/isolation.py); an expression the
    parser cannot read is Malformed (400), as promtool's refusals are."""
    try:
        return confine(expr, team)
    except Invalid as exc:
        raise Malformed(exc.message, field="expr") from exc


@dataclass(frozen=True)
class RulePublisher:
    """The rule file of one Prometheus, and that Prometheus's URL."""

    layout: PrometheusLayout
    prometheus_url: str
    confine: Confine
    promtool: str | None = None

    def check(self, spec: AlarmRuleSpec) -> None:
        """Return if `spec` is a rule Prometheus accepts; else Malformed with promtool's (or
        the PromQL parser's) words; Unavailable if promtool cannot run."""
        check_rules(render(rule_file([spec], self.confine)), promtool=self.promtool)

    def publish(self, specs: Iterable[AlarmRuleSpec]) -> str | None:
        """Make the rule file hold exactly `specs` and Prometheus load it; None if it did (or
        nothing changed), else why Prometheus has not loaded it yet (the file is written in
        any case: Prometheus loads it when it next starts or reloads)."""
        text = render(rule_file(specs, self.confine))
        self.layout.rules_dir.mkdir(parents=True, exist_ok=True)
        if not write_if_changed(self.layout.rules_dir / RULES_FILE, text):
            return None
        return self.reload()

    def reload(self) -> str | None:
        """Ask Prometheus to re-read its rules; None if it did, else why not."""
        url = self.prometheus_url.rstrip("/") + "/-/reload"
        try:
            with httpx.Client(timeout=RELOAD_S) as http:
                answer = http.post(url)
        except httpx.HTTPError as exc:
            problem = f"Prometheus at {self.prometheus_url} did not answer: {exc or type(exc)}"
        else:
            if answer.status_code == httpx.codes.OK:
                return None
            problem = f"Prometheus refused to reload: {answer.status_code} {answer.text[:200]}"
        log.warning("rules written, not loaded: %s", problem)
        return problem
