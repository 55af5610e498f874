"""Who is calling: the admin, or a member of one team (by a team token)."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.domain.errors import Forbidden, NotFound


@dataclass(frozen=True)
class Principal:
    token_id: str
    name: str
    team: str | None  # None for the platform admin

    @property
    def is_admin(self) -> bool:
        return self.team is None

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("only the platform admin may do this; use the admin token")

    def require_team(self, team: str) -> None:
        """Others' teams are invisible to a team token: 404, not 403, so names do not leak."""
        if not self.is_admin and self.team != team:
            raise NotFound(f"team {team!r} not found")

    @property
    def actor(self) -> str:
        return "admin" if self.is_admin else f"{self.team}/{self.name}"
