"""Alarms: the rules a team sets on a service in one environment, the receivers its alarms go
to, and each alarm's history (fired, resolved, acknowledged).

Pure rules only: what a valid rule and receiver are. Turning a rule into PromQL is
metrics/alarm_rules.py's; Prometheus evaluates it, Alertmanager posts what fires to the server.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid
from dockyard.domain.ids import check_name

MAX_FOR_S = 24 * 3600
MAX_EXPR = 4000
MAX_LABELS = 16
MAX_RECEIVERS = 8
MAX_TEXT = 500
RESERVED_LABELS = frozenset(
    {"alertname", "team", "service", "env", "severity", "dockyard_rule", "dockyard_builtin"}
)
"""Set by Dockyard on every alert of a rule: a team's own labels may not override them."""
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,62}$")


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Comparison(enum.StrEnum):
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="


class Builtin(enum.StrEnum):
    """The agent's per-instance figures a rule may compare with a threshold (the PromQL each
    stands for is in metrics/alarm_rules.py)."""

    CPU = "cpu"
    """CPU used over the last minute, percent of the CPU limit (instances without a limit
    never match)."""
    CPU_CORES = "cpu_cores"
    """CPU used, in cores, over the last minute."""
    CPU_THROTTLED = "cpu_throttled"
    """Percent of CPU periods over the last minute in which the instance hit its CPU limit."""
    MEMORY = "memory"
    """Working set, percent of the memory limit (instances without a limit never match)."""
    RESTARTS = "restarts"
    """Restarts over the last 10 minutes."""
    OOM_KILLS = "oom_kills"
    """Processes ended by the OOM killer over the last 10 minutes."""
    HEALTH_FAILING = "health_failing"
    """Consecutive failures of the image's own health check."""
    PIDS = "pids"
    """Processes and threads."""


@dataclass(frozen=True)
class Threshold:
    """A built-in figure compared with a value, e.g. memory > 85."""

    metric: Builtin
    op: Comparison
    value: float

    def __post_init__(self) -> None:
        if self.value != self.value or abs(self.value) > 1e15:  # NaN or absurd
            raise Invalid(f"threshold {self.value!r} is not a usable number", field="threshold")


@dataclass(frozen=True)
class AlarmRuleSpec:
    """One rule of one service in one environment: exactly one of `threshold` (a built-in
    figure) and `expr` (the team's own PromQL, confined to its own series before Prometheus
    sees it). The alert fires once the condition has held for `for_s` seconds."""

    team: str
    service: str
    env: Environment
    name: str
    threshold: Threshold | None = None
    expr: str | None = None
    for_s: int = 60
    severity: Severity = Severity.WARNING
    summary: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    receivers: tuple[str, ...] = ()
    """Names of the team's receivers notified; empty: all of them."""

    def __post_init__(self) -> None:
        check_name(self.team, field="team")
        check_name(self.service, field="service")
        check_name(self.name, field="name")
        if (self.threshold is None) == (self.expr is None):
            raise Invalid("a rule takes either a threshold or an expr, not both", field="expr")
        if self.expr is not None and not 0 < len(self.expr.strip()) <= MAX_EXPR:
            raise Invalid(f"expr must be 1 to {MAX_EXPR} characters of PromQL", field="expr")
        if not 0 <= self.for_s <= MAX_FOR_S:
            raise Invalid(f"for must be 0 to {MAX_FOR_S} seconds", field="for_s")
        if len(self.summary) > MAX_TEXT or any(ord(c) < 0x20 for c in self.summary):
            raise Invalid(f"summary must be one line of at most {MAX_TEXT}", field="summary")
        _check_labels(self.labels)
        if len(self.receivers) > MAX_RECEIVERS:
            raise Invalid(f"at most {MAX_RECEIVERS} receivers per rule", field="receivers")
        for receiver in self.receivers:
            check_name(receiver, field="receivers")


def _check_labels(labels: tuple[tuple[str, str], ...]) -> None:
    if len(labels) > MAX_LABELS:
        raise Invalid(f"at most {MAX_LABELS} labels per rule", field="labels")
    for name, value in labels:
        if not _LABEL.match(name):
            raise Invalid(
                f"label name {name!r}: use letters, digits and '_', not starting with a digit",
                field="labels",
            )
        if name in RESERVED_LABELS:
            raise Invalid(f"label {name!r} is set by Dockyard: choose another", field="labels")
        if len(value) > MAX_TEXT or any(ord(c) < 0x20 for c in value):
            raise Invalid(f"label {name}'s value must be one short line", field="labels")


class ReceiverKind(enum.StrEnum):
    """How a receiver is spoken to: the JSON shape posted to it, or e-mail."""

    WEBHOOK = "webhook"
    """Dockyard's own JSON of the notice (metrics/chat_payload.py notice_json)."""
    SLACK = "slack"
    MATTERMOST = "mattermost"
    DISCORD = "discord"
    WECOM = "wecom"
    """A WeCom (WeChat Work) group robot's webhook."""
    EMAIL = "email"
    """`target` is an e-mail address, reached through the configured SMTP server."""


@dataclass(frozen=True)
class ReceiverSpec:
    """Where a team's alarms are sent: a URL for the web kinds, an address for e-mail."""

    team: str
    name: str
    kind: ReceiverKind
    target: str

    def __post_init__(self) -> None:
        check_name(self.team, field="team")
        check_name(self.name, field="name")
        target = self.target
        if not target or len(target) > 1024 or any(ord(c) <= 0x20 for c in target):
            raise Invalid("target must be one line of at most 1024 characters", field="target")
        if self.kind is ReceiverKind.EMAIL:
            if target.count("@") != 1 or target.startswith("@") or target.endswith("@"):
                raise Invalid(f"{target!r} is not an e-mail address", field="target")
        elif not target.startswith(("http://", "https://")):
            raise Invalid(f"a {self.kind} receiver's target is an http(s):// URL", field="target")


@dataclass(frozen=True)
class DeliveryState:
    """How sending to a receiver went, as the server last recorded it."""

    delivered: int = 0
    failed: int = 0
    last_error: str | None = None
    last_attempt_at: datetime | None = None


class AlarmState(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Alarm:
    """One firing of an alert, from Alertmanager's notice of it until it resolves. `team` is
    None for a host alarm (label `host`, no team)."""

    id: int
    fingerprint: str
    alertname: str
    team: str | None
    service: str | None
    env: str | None
    severity: str
    state: AlarmState
    summary: str
    labels: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    acked_by: str | None = None
    acked_at: datetime | None = None
    silence_id: str | None = None
    silenced_until: datetime | None = None


@dataclass(frozen=True)
class Notice:
    """One alert of an Alertmanager notification, as the webhook got it. Alertmanager sends
    the same alert again (each repeat, each group change): `fingerprint` and `starts_at`
    name one firing."""

    fingerprint: str
    state: AlarmState
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def summary(self) -> str:
        text = self.annotations.get("summary") or self.annotations.get("description") or ""
        return text[:MAX_TEXT]


class Transition(enum.StrEnum):
    """What a notice changed in the history: receivers hear of changes only."""

    FIRED = "fired"
    RESOLVED = "resolved"
