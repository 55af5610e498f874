"""`dockyard up` writes Prometheus's alarm rule file from the database's rules, whoever added
them, and says so in one line; a database not made yet is reported, not a crash."""

from __future__ import annotations

import json
from pathlib import Path

from dockyard.cli.monitoring import prometheus_layout, write_alarm_rules
from dockyard.domain.alarm import AlarmRuleSpec, Builtin, Comparison, Threshold
from dockyard.domain.clock import utcnow
from dockyard.domain.environment import Environment
from dockyard.domain.principal import Principal
from dockyard.domain.spec import ServiceSpec
from dockyard.metrics.alarm_rules import RULES_FILE
from dockyard.settings import Settings
from dockyard.store import alarm_rules, services, teams
from dockyard.store.db import Database
from tests.support.nats import free_port

ADMIN = Principal(token_id="setup", name="admin", team=None)


def _settings(state: Path) -> Settings:
    # A port nothing listens on: Prometheus is not running, so the reload is refused.
    environ = {
        "HOME": str(state), "DOCKYARD_STATE_DIR": str(state),
        "DOCKYARD_PROMETHEUS_URL": f"http://127.0.0.1:{free_port()}",
    }  # fmt: skip
    return Settings.from_env(environ, uid=0)


def test_up_writes_every_rule_in_the_database_to_the_rule_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    db = Database.open(settings.database.url)
    now = utcnow()
    rule = AlarmRuleSpec(
        team="alpha", service="web", env=Environment.ONLINE, name="oom",
        threshold=Threshold(Builtin.OOM_KILLS, Comparison.GE, 1),
    )  # fmt: skip
    with db.session() as session:
        teams.create_team(session, ADMIN, name="alpha", description="", now=now)
        services.create_service(
            session, ADMIN, team="alpha", name="web", spec=ServiceSpec(image="a/w:1"), now=now
        )
        alarm_rules.put_rule(session, ADMIN, rule, now=now, create=True)
    db.close()
    said = write_alarm_rules(settings)
    assert said.startswith("1 alarm rules (not loaded: Prometheus at http://127.0.0.1:")
    written = json.loads((prometheus_layout(settings).rules_dir / RULES_FILE).read_text())
    assert [r["alert"] for g in written["groups"] for r in g["rules"]] == ["oom"]


def test_up_before_any_database_says_the_rules_were_not_written(tmp_path: Path) -> None:
    said = write_alarm_rules(_settings(tmp_path))
    assert said.startswith("alarm rules not written")
    assert not (prometheus_layout(_settings(tmp_path)).rules_dir / RULES_FILE).exists()
