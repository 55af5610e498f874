"""The read model behind the start page: services with the phase of each environment.

A team sees its own services; the admin sees every team's, grouped, or one team's when picked.
Each team costs one query (`store.summaries.team_summaries`), however many services it has.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.domain.principal import Principal
from dockyard.store import alarms, summaries, teams
from dockyard.store.db import Database
from dockyard.store.views import ServiceSummaryView

MAX_SERVICES_PER_TEAM = 500


@dataclass(frozen=True)
class TeamGroup:
    team: str
    services: tuple[ServiceSummaryView, ...]  # by name, each with test, sandbox, online, stable
    firing: dict[str, int] = field(default_factory=dict)
    """Firing alarms per service name (services without any are absent)."""


@dataclass(frozen=True)
class Overview:
    teams: tuple[str, ...]  # every team the viewer may pick
    picked: str | None  # the admin's chosen team; None shows all
    groups: tuple[TeamGroup, ...]


def load_overview(db: Database, who: Principal, *, picked: str | None) -> Overview:
    """Read the start page. A team token always sees exactly its own team."""
    with db.session() as session:
        names = [team.name for team in teams.list_teams(session, who)]
        if not who.is_admin or picked not in names:
            picked = None
        shown = [picked] if picked else names
        groups = [
            TeamGroup(
                team=team,
                services=tuple(
                    summaries.team_summaries(session, who, team=team, limit=MAX_SERVICES_PER_TEAM)
                ),
                firing=alarms.firing_counts(session, team),
            )
            for team in shown
        ]
    return Overview(teams=tuple(names), picked=picked, groups=tuple(groups))
