"""One environment's autoscaling: read, set, turn off, pause and resume.

The API only records the policy; the autoscaler on the leading server acts on it, and writes
its state and decisions that `GET` shows.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from dockyard.api.auth import Who
from dockyard.api.autoscaling_schemas import AutoscalingPublic, AutoscalingPut
from dockyard.api.bounds import ServicePath, TeamPath
from dockyard.api.deps import ApiDeps, Deps
from dockyard.api.schemas import Items
from dockyard.domain.environment import Environment
from dockyard.domain.principal import Principal
from dockyard.store import autoscale_decisions, autoscaling
from dockyard.store.autoscaling import AutoscalingView

router = APIRouter(tags=["autoscaling"])

PATH = "/teams/{team}/services/{svc}/autoscaling"
EnvQuery = Annotated[Environment, Query(description="The environment (default test).")]
DECISIONS_SHOWN = 10


def _answer(deps: ApiDeps, who: Principal, view: AutoscalingView) -> AutoscalingPublic:
    with deps.db.session() as session:
        decisions = autoscale_decisions.recent(
            session, who, team=view.team, service=view.service, env=view.env,
            limit=DECISIONS_SHOWN,
        )  # fmt: skip
    return AutoscalingPublic.of(view, decisions)


@router.get(PATH + "/envs")
def list_autoscaling(
    *, team: TeamPath, svc: ServicePath, who: Who, deps: Deps
) -> Items[AutoscalingPublic]:
    """Every environment of the service that has a policy (without decisions)."""
    with deps.db.session() as session:
        views = autoscaling.policies_of(session, who, team=team, service=svc)
    return Items[AutoscalingPublic](items=[AutoscalingPublic.of(view, []) for view in views])


@router.get(PATH)
def get_autoscaling(
    *, team: TeamPath, svc: ServicePath, who: Who, deps: Deps, env: EnvQuery = Environment.TEST
) -> AutoscalingPublic:
    """404 if the environment has no policy."""
    with deps.db.session() as session:
        view = autoscaling.get_policy(session, who, team=team, service=svc, env=env)
    return _answer(deps, who, view)


@router.put(PATH)
def put_autoscaling(
    *,
    team: TeamPath,
    svc: ServicePath,
    body: AutoscalingPut,
    who: Who,
    deps: Deps,
    env: EnvQuery = Environment.TEST,
) -> AutoscalingPublic:
    """Set the policy; the autoscaler acts on it within seconds (a paused one stays paused)."""
    policy = body.to_policy()
    with deps.db.session() as session:
        view = autoscaling.put_policy(
            session, who, team=team, service=svc, env=env, policy=policy, now=deps.clock()
        )
    return _answer(deps, who, view)


@router.delete(PATH)
def delete_autoscaling(
    *, team: TeamPath, svc: ServicePath, who: Who, deps: Deps, env: EnvQuery = Environment.TEST
) -> AutoscalingPublic:
    """Turn autoscaling off; the replica count stays what it is."""
    with deps.db.session() as session:
        view = autoscaling.delete_policy(
            session, who, team=team, service=svc, env=env, now=deps.clock()
        )
    return AutoscalingPublic.of(view, [])


@router.post(PATH + "/pause")
def pause_autoscaling(
    *, team: TeamPath, svc: ServicePath, who: Who, deps: Deps, env: EnvQuery = Environment.TEST
) -> AutoscalingPublic:
    """Stop scaling; the replica count stays as it is until resumed."""
    return _paused(team, svc, who, deps, env, paused=True)


@router.post(PATH + "/resume")
def resume_autoscaling(
    *, team: TeamPath, svc: ServicePath, who: Who, deps: Deps, env: EnvQuery = Environment.TEST
) -> AutoscalingPublic:
    """Scale again (after a pause, or a change of replicas by hand)."""
    return _paused(team, svc, who, deps, env, paused=False)


def _paused(
    team: str, svc: str, who: Principal, deps: ApiDeps, env: Environment, *, paused: bool
) -> AutoscalingPublic:
    with deps.db.session() as session:
        view = autoscaling.set_paused(
            session, who, team=team, service=svc, env=env, paused=paused, now=deps.clock()
        )
    return _answer(deps, who, view)
