"""Alarms through the API: rules judged by promtool before they are stored and written to the
rule file; receivers; the Alertmanager webhook recording each firing once and telling the
team's receivers; acknowledge; silences through Alertmanager's API (a fake one here, the real
one in tests/integration/metrics/test_alarms_stack.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from dockyard.api import ApiDeps, build_api
from dockyard.domain.alarm import Alarm, ReceiverSpec
from dockyard.domain.status import EnvKey
from dockyard.metrics.alarm_center import AlarmCenter
from dockyard.metrics.alarm_rules import RULES_FILE
from dockyard.metrics.alertmanager_client import AlertmanagerClient
from dockyard.metrics.prometheus_config import PrometheusLayout
from dockyard.metrics.receivers import Delivery
from dockyard.metrics.rule_check import find_promtool
from dockyard.metrics.rule_publisher import RulePublisher
from dockyard.store.db import Database
from dockyard.store.models import EventRow

from .api_support import API, START, MovableClock, TestClient, snapshot

pytestmark = pytest.mark.skipif(
    find_promtool() is None, reason="promtool is missing: apt-get install prometheus"
)
RULES = f"{API}/teams/alpha/services/web/alarm-rules"
RECEIVERS = f"{API}/teams/alpha/alarm-receivers"
ALARMS = f"{API}/teams/alpha/alarms"
WEBHOOK = f"{API}/alerts/webhook"
TOKEN = "platform-webhook-token"
MEMORY_RULE: dict[str, Any] = {
    "name": "memory-high",
    "env": "online",
    "threshold": {"metric": "memory", "op": ">", "value": 85},
    "for_s": 120,
    "severity": "critical",
    "labels": {"runbook": "wiki/mem"},
}


def _unconfined(expr: str, team: str) -> str:
    # The isolation itself is tested where it lives; these tests are about the routes.
    return expr


@dataclass
class FakeAlertmanager:
    """Alertmanager's silences API, in memory; `down` makes every call fail to connect."""

    silences: dict[str, dict[str, Any]] = field(default_factory=dict)
    expired: list[str] = field(default_factory=list)
    down: bool = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.method == "POST" and request.url.path == "/api/v2/silences":
            silence_id = f"s{len(self.silences) + 1}"
            self.silences[silence_id] = json.loads(request.content)
            return httpx.Response(200, json={"silenceID": silence_id})
        if request.method == "DELETE" and request.url.path.startswith("/api/v2/silence/"):
            self.expired.append(request.url.path.rsplit("/", 1)[1])
            return httpx.Response(200)
        return httpx.Response(404)


@dataclass
class Sent:
    """A deliver that records what it was asked to send, failing for targets containing
    "broken"."""

    calls: list[tuple[str, str, str]] = field(default_factory=list)

    async def __call__(
        self, receiver: ReceiverSpec, alarm: Alarm, state: str, link: str | None
    ) -> Delivery:
        self.calls.append((receiver.name, alarm.alertname, state))
        if "broken" in receiver.target:
            return Delivery(ok=False, attempts=3, error="503 from receiver")
        return Delivery(ok=True, attempts=1, error=None)


@pytest.fixture
def alertmanager() -> FakeAlertmanager:
    return FakeAlertmanager()


@pytest.fixture
def sent() -> Sent:
    return Sent()


@pytest.fixture
def layout(tmp_path: Path) -> PrometheusLayout:
    return PrometheusLayout(tmp_path / "prometheus")


@pytest.fixture
def deps(
    db: Database,
    clock: MovableClock,
    notified: list[EnvKey],
    tmp_path: Path,
    layout: PrometheusLayout,
    alertmanager: FakeAlertmanager,
    sent: Sent,
) -> ApiDeps:
    token_file = tmp_path / "webhook.token"
    token_file.write_text(TOKEN + "\n")
    center = AlarmCenter(
        # Port 9 (discard) on loopback: nothing answers the reload.
        publisher=RulePublisher(layout, "http://127.0.0.1:9", _unconfined),
        alertmanager=AlertmanagerClient(
            "http://alertmanager.test", transport=httpx.MockTransport(alertmanager.handle)
        ),
        webhook_token_file=token_file,
        deliver=sent,
        portal_url="http://dockyard.test",
    )
    return ApiDeps(db=db, clock=clock, notify=notified.append, alarms=center)


@pytest.fixture
def client(deps: ApiDeps) -> Iterator[TestClient]:
    with TestClient(build_api(deps), raise_server_exceptions=False) as test_client:
        yield test_client


def _alert(status: str = "firing", **labels: str) -> dict[str, Any]:
    every = {
        "alertname": "memory-high", "team": "alpha", "service": "web", "env": "online",
        "severity": "critical", "dockyard_rule": "memory-high", **labels,
    }  # fmt: skip
    return {
        "status": status,
        "labels": every,
        "annotations": {"summary": "memory over 85 %"},
        "startsAt": START.isoformat(),
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else START.isoformat(),
        "fingerprint": "f00d" + labels.get("instance", ""),
    }


def _post(client: TestClient, *alerts: dict[str, Any], token: str = TOKEN) -> httpx.Response:
    body = {"version": "4", "status": "firing", "alerts": list(alerts), "receiver": "dockyard"}
    return client.post(WEBHOOK, json=body, headers={"Authorization": f"Bearer {token}"})


def test_a_rule_is_stored_written_to_the_rule_file_and_shown_with_its_promql(
    client: TestClient, alpha: dict[str, str], web: str, layout: PrometheusLayout
) -> None:
    created = client.post(RULES, json=MEMORY_RULE, headers=alpha)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["promql"].startswith("(100 * dockyard_instance_memory_working_set_bytes{")
    assert "did not answer" in body["problem"]  # no Prometheus here: written, not loaded
    written = json.loads((layout.rules_dir / RULES_FILE).read_text())
    (group,) = written["groups"]
    assert group["name"] == "alpha/web/online"
    assert group["rules"][0]["labels"]["dockyard_rule"] == "memory-high"
    listed = client.get(RULES, headers=alpha).json()["items"]
    assert [r["name"] for r in listed] == ["memory-high"]
    replaced = client.put(f"{RULES}/memory-high", json={**MEMORY_RULE, "name": None} | {
        "threshold": {"metric": "memory", "op": ">", "value": 95}}, headers=alpha)  # fmt: skip
    assert replaced.status_code == 422  # PUT takes its name from the path only
    body = {k: v for k, v in MEMORY_RULE.items() if k != "name"}
    body["threshold"] = {"metric": "memory", "op": ">", "value": 95}
    assert client.put(f"{RULES}/memory-high", json=body, headers=alpha).status_code == 200
    assert "> 95" in client.get(f"{RULES}/memory-high", headers=alpha).json()["promql"]
    assert client.delete(f"{RULES}/memory-high", headers=alpha).status_code == 200
    assert json.loads((layout.rules_dir / RULES_FILE).read_text()) == {"groups": []}


def test_bad_promql_is_a_400_with_promtools_words_and_nothing_is_stored(
    client: TestClient, alpha: dict[str, str], web: str, db: Database, layout: PrometheusLayout
) -> None:
    before = snapshot(db)
    rule = {"name": "bad", "env": "test", "expr": "rate(up[5m]) >> 1"}
    refused = client.post(RULES, json=rule, headers=alpha)
    assert refused.status_code == 400, refused.text
    assert "parse error" in refused.json()["message"]
    assert snapshot(db) == before
    assert not (layout.rules_dir / RULES_FILE).exists()


def test_a_rule_naming_a_receiver_the_team_lacks_is_refused(
    client: TestClient, alpha: dict[str, str], web: str
) -> None:
    refused = client.post(RULES, json={**MEMORY_RULE, "receivers": ["pager"]}, headers=alpha)
    assert refused.status_code == 422
    assert refused.json()["field"] == "receivers"


def test_another_teams_rules_are_not_found(
    client: TestClient, alpha: dict[str, str], web: str, admin: dict[str, str]
) -> None:
    from .api_support import make_team

    beta = make_team(client, admin, "beta")
    assert client.post(RULES, json=MEMORY_RULE, headers=beta).status_code == 404
    assert client.get(ALARMS, headers=beta).status_code == 404


def test_the_webhook_takes_the_platform_token_only(
    client: TestClient, alpha: dict[str, str], web: str
) -> None:
    assert _post(client, _alert(), token="guess").status_code == 401
    assert _post(client, _alert(), token=alpha["Authorization"][7:]).status_code == 401
    assert client.get(ALARMS, headers=alpha).json()["items"] == []


def test_without_a_webhook_token_file_nothing_is_accepted(
    client: TestClient, alpha: dict[str, str], web: str, deps: ApiDeps
) -> None:
    assert deps.alarms is not None
    deps.alarms.webhook_token_file.unlink()
    refused = _post(client, _alert())
    assert refused.status_code == 401
    assert "dockyard up" in refused.json()["message"]
    assert client.get(ALARMS, headers=alpha).json()["items"] == []


def test_a_firing_is_recorded_once_however_often_alertmanager_sends_it(
    client: TestClient, alpha: dict[str, str], web: str, db: Database
) -> None:
    assert _post(client, _alert()).json() == {"recorded": 1}
    assert _post(client, _alert()).json() == {"recorded": 0}
    (alarm,) = client.get(ALARMS, params={"state": "firing"}, headers=alpha).json()["items"]
    assert alarm["alertname"] == "memory-high"
    assert alarm["state"] == "firing" and alarm["ends_at"] is None
    assert _post(client, _alert("resolved")).json() == {"recorded": 1}
    assert client.get(ALARMS, params={"state": "firing"}, headers=alpha).json()["items"] == []
    (resolved,) = client.get(ALARMS, params={"state": "resolved"}, headers=alpha).json()["items"]
    assert resolved["id"] == alarm["id"]
    with db.session() as session:
        kinds = session.scalars(select(EventRow.kind).order_by(EventRow.id)).all()
    assert kinds == ["alarm_fired", "alarm_resolved"]


def test_receivers_hear_of_each_change_and_failures_are_shown(
    client: TestClient, alpha: dict[str, str], web: str, sent: Sent
) -> None:
    for name, target in (("chat", "http://chat.test/hook"), ("pager", "http://broken.test/")):
        added = client.post(
            RECEIVERS, json={"name": name, "kind": "slack", "target": target}, headers=alpha
        )
        assert added.status_code == 201, added.text
    _post(client, _alert())
    _post(client, _alert())  # a repeat: nobody hears of it again
    _post(client, _alert("resolved"))
    assert sorted(sent.calls) == [
        ("chat", "memory-high", "fired"), ("chat", "memory-high", "resolved"),
        ("pager", "memory-high", "fired"), ("pager", "memory-high", "resolved"),
    ]  # fmt: skip
    states = {r["name"]: r["state"] for r in client.get(RECEIVERS, headers=alpha).json()["items"]}
    assert states["chat"]["delivered"] == 2 and states["chat"]["failed"] == 0
    assert states["pager"]["failed"] == 2
    assert states["pager"]["last_error"] == "503 from receiver"


def test_a_host_alarm_without_a_team_is_recorded_shown_to_the_admin_and_sent_to_nobody(
    client: TestClient, alpha: dict[str, str], admin: dict[str, str], sent: Sent
) -> None:
    host = _alert(alertname="HostDiskFull", host="h1", dockyard_builtin="true")
    for label in ("team", "service", "env", "dockyard_rule"):
        del host["labels"][label]
    assert _post(client, host).json() == {"recorded": 1}
    assert sent.calls == []
    assert client.get(ALARMS, headers=alpha).json()["items"] == []
    (shown,) = client.get(f"{API}/alarms", params={"state": "firing"}, headers=admin).json()[
        "items"
    ]
    assert (shown["alertname"], shown["team"], shown["labels"]["host"]) == (
        "HostDiskFull", None, "h1",
    )  # fmt: skip
    assert client.get(f"{API}/alarms", headers=alpha).status_code == 403


def test_acknowledge_records_who_once(
    client: TestClient, alpha: dict[str, str], web: str, clock: MovableClock
) -> None:
    _post(client, _alert())
    (alarm,) = client.get(ALARMS, headers=alpha).json()["items"]
    clock.advance(minutes=3)
    acked = client.post(f"{ALARMS}/{alarm['id']}/ack", headers=alpha)
    assert acked.status_code == 200, acked.text
    assert acked.json()["acked_by"] == "alpha/ci"
    assert acked.json()["acked_at"].startswith((START + timedelta(minutes=3)).isoformat()[:19])
    assert client.post(f"{ALARMS}/{alarm['id']}/ack", headers=alpha).status_code == 409


def test_a_silence_matches_the_alarms_labels_and_is_expired_on_delete(
    client: TestClient, alpha: dict[str, str], web: str, alertmanager: FakeAlertmanager
) -> None:
    _post(client, _alert())
    (alarm,) = client.get(ALARMS, headers=alpha).json()["items"]
    url = f"{ALARMS}/{alarm['id']}/silence"
    silenced = client.post(url, json={"duration": "2h", "comment": "deploying"}, headers=alpha)
    assert silenced.status_code == 200, silenced.text
    assert silenced.json()["silence_id"] == "s1"
    assert silenced.json()["silenced_until"].startswith(
        (START + timedelta(hours=2)).isoformat()[:19]
    )
    matchers = {m["name"]: m["value"] for m in alertmanager.silences["s1"]["matchers"]}
    assert matchers == alarm["labels"]
    assert alertmanager.silences["s1"]["createdBy"] == "alpha/ci"
    unsilenced = client.delete(url, headers=alpha)
    assert unsilenced.json()["silence_id"] is None
    assert alertmanager.expired == ["s1"]


def test_alertmanager_down_is_a_503_and_no_silence_is_recorded(
    client: TestClient, alpha: dict[str, str], web: str, alertmanager: FakeAlertmanager
) -> None:
    _post(client, _alert())
    (alarm,) = client.get(ALARMS, headers=alpha).json()["items"]
    alertmanager.down = True
    refused = client.post(f"{ALARMS}/{alarm['id']}/silence", json={"duration": "1h"}, headers=alpha)
    assert refused.status_code == 503
    assert "does not answer" in refused.json()["message"]
    assert client.get(f"{ALARMS}/{alarm['id']}", headers=alpha).json()["silence_id"] is None


@pytest.mark.parametrize("duration", ["0h", "31d", "2 hours", "5y"])
def test_a_silence_duration_outside_reason_is_refused(
    client: TestClient, alpha: dict[str, str], web: str, duration: str
) -> None:
    _post(client, _alert())
    (alarm,) = client.get(ALARMS, headers=alpha).json()["items"]
    refused = client.post(
        f"{ALARMS}/{alarm['id']}/silence", json={"duration": duration}, headers=alpha
    )
    assert refused.status_code == 422
