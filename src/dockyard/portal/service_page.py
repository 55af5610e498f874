"""The read model behind a service page: four environments, one of them shown in detail.

Everything a page or a live fragment shows is read in one transaction, so the cards, the panel
and the forms always agree with each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.discovery.endpoints import EndpointSet
from dockyard.discovery.reading import endpoint_sets
from dockyard.domain.alarm import Alarm, AlarmState
from dockyard.domain.environment import ALL_ENVIRONMENTS, Environment
from dockyard.domain.principal import Principal
from dockyard.domain.status import EnvPhase
from dockyard.portal.sparkline import Sparkline, sparkline
from dockyard.store import alarms as store_alarms
from dockyard.store import autoscale_decisions, autoscaling, releases
from dockyard.store import environments as store_envs
from dockyard.store.autoscale_decisions import DecisionView
from dockyard.store.autoscaling import AutoscalingView
from dockyard.store.db import Database
from dockyard.store.status import key_for
from dockyard.store.views import EnvironmentView, EventView, ReleaseView

HISTORY_ROWS = 20
EVENT_ROWS = 20
DECISION_ROWS = 10
ALARM_ROWS = 10
BUSY_PHASES = frozenset({EnvPhase.PROGRESSING.value, EnvPhase.DELETING.value})

# Poll fast only while something is moving: a rollout is a few seconds long and people watch
# it; an idle page still notices a change made elsewhere, at a fifth of the cost.
FAST_POLL_S = 1
SLOW_POLL_S = 5


def is_busy(view: EnvironmentView) -> bool:
    """True while the controller is working on the environment or has not caught up with it."""
    behind = view.current is not None and view.status.revision != view.current.number
    return behind or view.status.phase in BUSY_PHASES


@dataclass(frozen=True)
class ServicePage:
    team: str
    service: str
    envs: tuple[EnvironmentView, ...]  # test, sandbox, online, stable
    selected: Environment
    history: tuple[ReleaseView, ...]  # of the selected environment, newest first
    events: tuple[EventView, ...]  # of the selected environment, newest first
    endpoints: tuple[EndpointSet, ...] = ()  # of every environment, in `envs`' order
    autoscaling: AutoscalingView | None = None  # of the selected environment, if it has one
    decisions: tuple[DecisionView, ...] = ()  # the autoscaler's there, newest first
    alarms: tuple[Alarm, ...] = ()  # of the selected environment: firing first, then newest

    @property
    def decision_chart(self) -> Sparkline | None:
        """The figures the latest decisions used, oldest first, against the target."""
        return sparkline([d.figure for d in reversed(self.decisions)])

    @property
    def firing(self) -> int:
        return sum(1 for alarm in self.alarms if alarm.state is AlarmState.FIRING)

    @property
    def panel(self) -> EnvironmentView:
        return next(view for view in self.envs if view.env == self.selected)

    @property
    def revision(self) -> int | None:
        """The selected environment's current revision: what its forms act on."""
        current = self.panel.current
        return None if current is None else current.number

    @property
    def poll_seconds(self) -> int:
        return FAST_POLL_S if any(is_busy(view) for view in self.envs) else SLOW_POLL_S

    @property
    def rollback_choices(self) -> tuple[ReleaseView, ...]:
        return tuple(r for r in self.history if r.number != self.revision)

    @property
    def rollback_default(self) -> int | None:
        """The revision before the current one, if it is still in the listed history."""
        if self.revision is None:
            return None
        previous = [r.number for r in self.rollback_choices if r.number < self.revision]
        return max(previous, default=None)


def default_environment(envs: list[EnvironmentView]) -> Environment:
    """The first deployed environment, in promotion order; `test` when none is."""
    return next((view.env for view in envs if view.current is not None), Environment.TEST)


def load_service_page(
    db: Database, who: Principal, *, team: str, service: str, env: Environment | None
) -> ServicePage:
    """Read the page; NotFound if the service does not exist or `who` may not see it."""
    with db.session() as session:
        envs = store_envs.environments(session, who, team=team, service=service)
        selected = env or default_environment(envs)
        history = releases.history(
            session, who, team=team, service=service, env=selected, limit=HISTORY_ROWS
        )
        events = store_envs.events(
            session, who, team=team, service=service, env=selected, limit=EVENT_ROWS
        )
        key = key_for(session, team=team, service=service, env=selected)
        endpoints = () if key is None else endpoint_sets(session, key.service_id, ALL_ENVIRONMENTS)
        policy = next(
            (p for p in autoscaling.policies_of(session, who, team=team, service=service)
             if p.env == selected),
            None,
        )  # fmt: skip
        decisions = autoscale_decisions.recent(
            session, who, team=team, service=service, env=selected, limit=DECISION_ROWS
        )
        alarms = store_alarms.list_alarms(
            session, who, team, service=service, env=str(selected), limit=ALARM_ROWS,
            firing_first=True,
        )  # fmt: skip
    return ServicePage(
        team=team,
        service=service,
        envs=tuple(envs),
        selected=selected,
        history=tuple(history),
        events=tuple(events),
        endpoints=endpoints,
        autoscaling=policy,
        decisions=tuple(decisions),
        alarms=tuple(alarms),
    )
