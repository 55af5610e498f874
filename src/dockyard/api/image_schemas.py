"""JSON shapes of the image center's routes (docs/api.md, "Images"): bodies and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from dockyard.api.bounds import Line
from dockyard.api.schemas import EnvVars, Replicas
from dockyard.domain.environment import Environment
from dockyard.domain.source import GitSource
from dockyard.images.gates import Gate
from dockyard.images.promotion import Pipeline, Stage
from dockyard.images.retention import Verdict
from dockyard.store.builds import BuildView, LogPage
from dockyard.store.images import ImageView, SourceView
from dockyard.store.promotions import MAX_SOAK_S, Override, Policy
from dockyard.store.provenance import Provenance


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ---- bodies ----


class SourceBody(_Body):
    repo_url: Line
    branch: Line = GitSource.branch
    dockerfile: Line = GitSource.dockerfile
    context: Line = GitSource.context

    def to_source(self) -> GitSource:
        return GitSource(**self.model_dump())


class BuildRequest(_Body):
    ref: Line | None = Field(default=None, description="Branch, tag or commit; default: the branch")
    force: bool = Field(default=False, description="Build even if the commit was built already")
    deploy_to: Environment | None = Field(
        default=None, strict=False, description="Release the image there once built"
    )


class PromotionRequest(_Body):
    from_env: Environment = Field(alias="from")
    to: Environment

    model_config = ConfigDict(extra="forbid", strict=False, populate_by_name=True)


class ApprovalRequest(_Body):
    digest: Line | None = Field(default=None, description="Default: what sandbox runs now")


class PolicyBody(_Body):
    soak_s: Annotated[float, Field(ge=0, le=MAX_SOAK_S, allow_inf_nan=False)] = Policy.soak_s
    online_approval: bool = Policy.online_approval
    stable_follows: Environment | None = None

    model_config = ConfigDict(extra="forbid", strict=False)

    def to_policy(self) -> Policy:
        return Policy(
            soak_s=self.soak_s,
            online_approval=self.online_approval,
            stable_follows=self.stable_follows,
        )


class OverrideBody(_Body):
    replicas: Replicas | None = None
    env: EnvVars = Field(default_factory=dict)

    def to_override(self) -> Override:
        return Override(replicas=self.replicas, env=tuple(sorted(self.env.items())))


class RetentionRequest(_Body):
    dry_run: bool = True
    keep_revisions: int | None = Field(default=None, ge=1, le=1000)


# ---- answers ----


class SourcePublic(_Out):
    repo_url: str
    branch: str
    dockerfile: str
    context: str
    updated_at: datetime

    @classmethod
    def of(cls, view: SourceView) -> SourcePublic:
        source = view.source
        return cls(
            repo_url=source.repo_url,
            branch=source.branch,
            dockerfile=source.dockerfile,
            context=source.context,
            updated_at=view.updated_at,
        )


class ImagePublic(_Out):
    team: str
    service: str
    reference: str
    repository: str
    digest: str
    tag: str
    commit: str
    author: str
    message: str
    committed_at: datetime | None
    size_bytes: int
    build_number: int
    duration_s: float
    created_at: datetime
    deleted_at: datetime | None

    @classmethod
    def of(cls, view: ImageView) -> ImagePublic:
        return cls.model_validate({**view.__dict__, "reference": view.reference})


class BuildPublic(_Out):
    team: str
    service: str
    number: int
    ref: str
    force: bool
    deploy_to: Environment | None
    state: str
    reason: str
    commit: str | None
    image: ImagePublic | None
    requested_by: str
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    log_size: int

    @classmethod
    def of(cls, view: BuildView) -> BuildPublic:
        duration = (
            (view.finished_at - view.started_at).total_seconds()
            if view.finished_at and view.started_at
            else None
        )
        data = {**view.__dict__, "state": view.state.value, "duration_s": duration}
        data["image"] = ImagePublic.of(view.image) if view.image else None
        return cls.model_validate(data)


class LogPublic(_Out):
    text: str
    next: int = Field(description="Pass as `after` to read on")
    done: bool = Field(description="The build ended and this is the end of its log")
    state: str
    build: BuildPublic | None = Field(
        default=None,
        description="The finished build, on the page that ends its log (`done`): a follower "
        "needs no further request to learn the outcome",
    )

    @classmethod
    def of(cls, page: LogPage, *, build: BuildView | None = None) -> LogPublic:
        finished = BuildPublic.of(build) if build is not None and page.done else None
        return cls(
            text=page.text, next=page.next, done=page.done, state=page.state.value, build=finished
        )


class PolicyPublic(_Out):
    soak_s: float
    online_approval: bool
    stable_follows: Environment | None

    @classmethod
    def of(cls, policy: Policy) -> PolicyPublic:
        return cls.model_validate(policy)


class OverridePublic(_Out):
    environment: Environment
    replicas: int | None
    env: dict[str, str]

    @classmethod
    def of(cls, env: Environment, override: Override) -> OverridePublic:
        return cls(environment=env, replicas=override.replicas, env=dict(override.env))


class GatePublic(_Out):
    name: str
    passed: bool
    detail: str

    @classmethod
    def of(cls, gate: Gate) -> GatePublic:
        return cls.model_validate(gate)


class StagePublic(_Out):
    env: Environment
    revision: int | None
    image: str | None
    digest: str | None
    replicas: int | None
    phase: str | None
    available_since: datetime | None
    released_by: str | None
    released_at: datetime | None
    next: Environment | None
    gates: list[GatePublic]
    promotable: bool

    @classmethod
    def of(cls, stage: Stage) -> StagePublic:
        facts = stage.facts
        return cls(
            env=facts.env,
            revision=facts.revision,
            image=facts.image,
            digest=stage.digest,
            replicas=facts.replicas,
            phase=facts.phase if facts.status_revision == facts.revision else "progressing",
            available_since=facts.available_since,
            released_by=facts.created_by,
            released_at=facts.created_at,
            next=stage.next,
            gates=[GatePublic.of(gate) for gate in stage.gates],
            promotable=bool(stage.gates) and all(gate.passed for gate in stage.gates),
        )


class PipelinePublic(_Out):
    team: str
    service: str
    policy: PolicyPublic
    stages: list[StagePublic]

    @classmethod
    def of(cls, pipeline: Pipeline) -> PipelinePublic:
        return cls(
            team=pipeline.team,
            service=pipeline.service,
            policy=PolicyPublic.of(pipeline.policy),
            stages=[StagePublic.of(stage) for stage in pipeline.stages],
        )


class ApprovalPublic(_Out):
    env: Environment
    digest: str
    approved_by: str


class VerdictPublic(_Out):
    team: str
    service: str
    reference: str
    keep: bool
    why: str
    size_bytes: int

    @classmethod
    def of(cls, verdict: Verdict) -> VerdictPublic:
        image = verdict.image
        return cls(
            team=image.team,
            service=image.service,
            reference=image.reference,
            keep=verdict.keep,
            why=verdict.why,
            size_bytes=image.size_bytes,
        )


class RetentionPublic(_Out):
    dry_run: bool
    keep_revisions: int
    deleted: list[VerdictPublic]
    kept: list[VerdictPublic]


class StepPublic(_Out):
    env: Environment
    revision: int
    cause: str
    created_by: str
    created_at: datetime


class ProvenancePublic(_Out):
    team: str
    service: str
    instance: str
    env: Environment
    revision: int
    runtime_id: str
    started_at: datetime | None
    image: str
    digest: str | None
    built: ImagePublic | None
    build: BuildPublic | None
    build_log: str | None = Field(description="The API path of the build's log")
    releases: list[StepPublic]

    @classmethod
    def of(cls, found: Provenance, *, log_path: str | None) -> ProvenancePublic:
        return cls(
            team=found.team,
            service=found.service,
            instance=found.instance,
            env=found.env,
            revision=found.revision,
            runtime_id=found.runtime_id,
            started_at=found.started_at,
            image=found.image,
            digest=found.digest,
            built=ImagePublic.of(found.built) if found.built else None,
            build=BuildPublic.of(found.build) if found.build else None,
            build_log=log_path,
            releases=[StepPublic.model_validate(step) for step in found.releases],
        )
