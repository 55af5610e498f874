"""JSON shapes of the autoscaling routes: the policy a team sets, and the answer showing it
with the autoscaler's state (active, paused or holding, and why) and its latest decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from dockyard.domain.autoscaling import MAX_TARGET_PERCENT, MAX_WINDOW_S, Metric, Policy, Step
from dockyard.domain.environment import Environment
from dockyard.domain.spec import MAX_REPLICAS
from dockyard.store.autoscale_decisions import DecisionView
from dockyard.store.autoscaling import AutoscalingView

Count = Annotated[int, Field(ge=0, le=MAX_REPLICAS)]
Window = Annotated[float, Field(ge=0, le=MAX_WINDOW_S)]
StepText = Annotated[
    str,
    Field(max_length=5, pattern=r"^[0-9]{1,4}%?$", description="Instances (4) or per cent (100%)."),
]


class AutoscalingPut(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    min: Count
    max: Count
    metric: Metric = Field(strict=False, description="cpu or memory (per cent of the limit)")
    target_percent: Annotated[float, Field(gt=0, le=MAX_TARGET_PERCENT)]
    up_step: StepText = str(Policy.up_step)
    down_step: StepText = str(Policy.down_step)
    window_s: Window = Policy.window_s
    up_window_s: Window = Policy.up_window_s
    down_window_s: Window = Policy.down_window_s
    panic_window_s: Window = Policy.panic_window_s
    panic_factor: Annotated[float, Field(gt=1, le=100)] = Policy.panic_factor

    def to_policy(self) -> Policy:
        """The domain's policy (its checks across fields answer 422 naming the field)."""
        return Policy(
            min_replicas=self.min, max_replicas=self.max, metric=self.metric,
            target_percent=self.target_percent,
            up_step=Step.parse(self.up_step, field="up_step"),
            down_step=Step.parse(self.down_step, field="down_step"),
            window_s=self.window_s, up_window_s=self.up_window_s,
            down_window_s=self.down_window_s, panic_window_s=self.panic_window_s,
            panic_factor=self.panic_factor,
        )  # fmt: skip


class DecisionPublic(BaseModel):
    at: datetime
    revision: int
    metric: str
    figure: float = Field(description="The figure decided on, per cent of the target.")
    target_percent: float
    from_replicas: int
    to_replicas: int
    reason: str

    @classmethod
    def of(cls, view: DecisionView) -> DecisionPublic:
        return cls(**view.__dict__)


class AutoscalingPublic(BaseModel):
    team: str
    service: str
    env: Environment
    min: int
    max: int
    metric: Metric
    target_percent: float
    up_step: str
    down_step: str
    window_s: float
    up_window_s: float
    down_window_s: float
    panic_window_s: float
    panic_factor: float
    state: Literal["active", "paused", "holding"]
    paused: str | None = Field(description="Why it is paused (a change by hand, or asked).")
    status: str = Field(description="The autoscaler's latest word on this environment.")
    status_at: datetime | None
    updated_by: str
    updated_at: datetime
    decisions: list[DecisionPublic] = Field(description="The latest decisions, newest first.")

    @classmethod
    def of(cls, view: AutoscalingView, decisions: list[DecisionView]) -> AutoscalingPublic:
        policy = view.policy.to_json()
        policy.pop("tolerance")
        return cls(
            team=view.team, service=view.service, env=view.env, **policy,
            state=view.state, paused=view.paused, status=view.status,
            status_at=view.status_at, updated_by=view.updated_by, updated_at=view.updated_at,
            decisions=[DecisionPublic.of(d) for d in decisions],
        )  # fmt: skip
