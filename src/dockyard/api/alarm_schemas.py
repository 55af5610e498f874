"""JSON shapes of the alarm routes: rules, receivers, the alarm history and its actions, and
the notification Alertmanager posts to the webhook (its version 4 payload)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from dockyard.api.bounds import LINE, MAX_INTEGER, TEXT, Line, Name, Short
from dockyard.domain.alarm import (
    MAX_EXPR,
    MAX_FOR_S,
    MAX_LABELS,
    MAX_RECEIVERS,
    MAX_TEXT,
    Alarm,
    AlarmRuleSpec,
    AlarmState,
    Builtin,
    Comparison,
    Notice,
    ReceiverKind,
    ReceiverSpec,
    Severity,
    Threshold,
)
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid
from dockyard.metrics.alarm_rules import Confine, rule_expr
from dockyard.store.alarm_receivers import StoredReceiver

Text = Annotated[str, Field(max_length=MAX_TEXT, pattern=LINE)]
DURATION = r"^(\d{1,7})([smhd])$"
_DURATION = re.compile(DURATION)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_SILENCE_S = 30 * 86400


class ThresholdBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: Builtin = Field(description="A built-in figure of each instance")
    op: Comparison
    value: float = Field(allow_inf_nan=False, ge=-MAX_INTEGER, le=MAX_INTEGER)


class AlarmRuleBody(BaseModel):
    """A rule, less its name (which PUT takes from the path)."""

    model_config = ConfigDict(extra="forbid")

    env: Environment
    threshold: ThresholdBody | None = Field(default=None, description="Either this or expr")
    expr: Annotated[str, Field(min_length=1, max_length=MAX_EXPR, pattern=TEXT)] | None = Field(
        default=None, description="PromQL over the team's own series (others' are never seen)"
    )
    for_s: int = Field(default=60, ge=0, le=MAX_FOR_S, description="Held this long, it fires")
    severity: Severity = Severity.WARNING
    summary: Text = ""
    labels: dict[Name, Text] = Field(default={}, max_length=MAX_LABELS)
    receivers: list[Name] = Field(
        default=[], max_length=MAX_RECEIVERS, description="Empty: all the team's receivers"
    )

    def to_spec(self, *, team: str, service: str, name: str) -> AlarmRuleSpec:
        t = self.threshold
        return AlarmRuleSpec(
            team=team, service=service, env=self.env, name=name,
            threshold=None if t is None else Threshold(t.metric, t.op, t.value),
            expr=self.expr, for_s=self.for_s, severity=self.severity, summary=self.summary,
            labels=tuple(sorted(self.labels.items())), receivers=tuple(self.receivers),
        )  # fmt: skip


class AlarmRuleCreate(AlarmRuleBody):
    name: Name


class AlarmRulePublic(BaseModel):
    team: str
    service: str
    name: str
    env: Environment
    threshold: ThresholdBody | None
    expr: str | None
    promql: str = Field(description="What Prometheus evaluates: the rule, confined to the team")
    for_s: int
    severity: Severity
    summary: str
    labels: dict[str, str]
    receivers: list[str]
    problem: str | None = Field(
        default=None, description="Stored, but why Prometheus has not loaded it yet"
    )

    @classmethod
    def of(
        cls, spec: AlarmRuleSpec, confine: Confine, *, problem: str | None = None
    ) -> AlarmRulePublic:
        t = spec.threshold
        return cls(
            team=spec.team, service=spec.service, name=spec.name, env=spec.env,
            threshold=None if t is None else ThresholdBody(metric=t.metric, op=t.op, value=t.value),
            expr=spec.expr, promql=rule_expr(spec, confine), for_s=spec.for_s,
            severity=spec.severity, summary=spec.summary, labels=dict(spec.labels),
            receivers=list(spec.receivers), problem=problem,
        )  # fmt: skip


class ReceiverCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: ReceiverKind
    target: Line = Field(description="An http(s):// URL, or an e-mail address for email")

    def to_spec(self, team: str) -> ReceiverSpec:
        return ReceiverSpec(team=team, name=self.name, kind=self.kind, target=self.target)


class DeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    delivered: int
    failed: int
    last_error: str | None
    last_attempt_at: datetime | None


class ReceiverPublic(BaseModel):
    team: str
    name: str
    kind: ReceiverKind
    target: str
    created_at: datetime
    state: DeliveryPublic

    @classmethod
    def of(cls, stored: StoredReceiver) -> ReceiverPublic:
        spec = stored.spec
        return cls(
            team=spec.team, name=spec.name, kind=spec.kind, target=spec.target,
            created_at=stored.created_at, state=DeliveryPublic.model_validate(stored.state),
        )  # fmt: skip


class AlarmPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
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
    acked_by: str | None
    acked_at: datetime | None
    silence_id: str | None
    silenced_until: datetime | None

    @classmethod
    def of(cls, alarm: Alarm) -> AlarmPublic:
        return cls.model_validate(alarm)


class SilenceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration: Annotated[str, Field(min_length=2, max_length=8, pattern=DURATION)] = Field(
        description="How long: a number and s, m, h or d (e.g. 2h), at most 30d"
    )
    comment: Text = ""

    def seconds(self) -> int:
        match = _DURATION.match(self.duration)
        seconds = int(match.group(1)) * _UNIT_S[match.group(2)] if match else 0
        if not 0 < seconds <= MAX_SILENCE_S:
            raise Invalid(
                f"duration {self.duration!r}: write a number and s, m, h or d, e.g. 2h, "
                "at most 30d",
                field="duration",
            )
        return seconds


# -- Alertmanager's webhook payload (version 4); only what Dockyard reads ---------------------


LabelName = Annotated[str, Field(min_length=1, max_length=200, pattern=LINE)]
LabelValue = Annotated[str, Field(max_length=4096, pattern=TEXT)]
Labels = Annotated[dict[LabelName, LabelValue], Field(max_length=64)]
Time = Annotated[str, Field(min_length=1, max_length=64, pattern=LINE)]
_TIME = TypeAdapter(datetime)


def _time(value: str, *, field: str) -> datetime:
    # Alertmanager writes nanoseconds; pydantic reads them (to the microsecond).
    try:
        return _TIME.validate_python(value)
    except ValueError:
        raise Invalid(f"{field} {value!r} is not an RFC 3339 time", field=field) from None


class WebhookAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: AlarmState
    labels: Labels
    annotations: Labels = {}
    startsAt: Time  # noqa: N815 (Alertmanager's own field name)
    endsAt: Time | None = None  # noqa: N815
    fingerprint: Annotated[str, Field(min_length=1, max_length=64, pattern=LINE)]

    def notice(self) -> Notice:
        # A firing alert carries endsAt 0001-01-01 (or a future time it would end by).
        ends = self.endsAt if self.status is AlarmState.RESOLVED else None
        return Notice(
            fingerprint=self.fingerprint, state=self.status, labels=self.labels,
            annotations=self.annotations, starts_at=_time(self.startsAt, field="startsAt"),
            ends_at=None if ends is None else _time(ends, field="endsAt"),
        )  # fmt: skip


class WebhookBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: Short = "4"
    alerts: list[WebhookAlert] = Field(max_length=10_000)


class WebhookAnswer(BaseModel):
    recorded: int = Field(description="Alerts that changed the history (repeats do not)")
