"""`stable` follows another environment: whenever that environment's revision changes to a new
digest and is available, stable gets the same digest (with stable's own config).

Other teams test against stable, so it takes only what is proven: a source revision that is
still rolling out, or failed, is not followed until it is available. `decide` is the pure rule;
`Follower` looks every few seconds (level-triggered, like the controllers: a missed change is
caught at the next look, and a server restart loses nothing).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from dockyard.domain.clock import Clock
from dockyard.domain.environment import Environment
from dockyard.domain.errors import DockyardError
from dockyard.domain.principal import Principal
from dockyard.domain.status import EnvKey
from dockyard.images.naming import digest_of
from dockyard.images.releasing import ON_BEHALF, release_image
from dockyard.store import promotions
from dockyard.store.db import Database
from dockyard.store.promotions import EnvFacts, Following
from dockyard.store.releases import Change
from dockyard.store.status import key_for

log = logging.getLogger(__name__)
FOLLOWER = "stable-follower"
"""The name the follower's revisions are made under (as `TEAM/stable-follower`)."""


def decide(source: EnvFacts, stable: EnvFacts) -> str | None:
    """The image stable should now release, or None to leave it as it is."""
    if source.image is None or digest_of(source.image) is None:
        return None
    if source.phase != "available" or source.status_revision != source.revision:
        return None
    if stable.image is not None and digest_of(stable.image) == digest_of(source.image):
        return None
    return source.image


class Follower:
    """Keeps every following service's stable on its source's digest."""

    def __init__(
        self, db: Database, *, clock: Clock, notify: Callable[[EnvKey], None], interval_s: float
    ) -> None:
        self._db = db
        self._clock = clock
        self._notify = notify
        self._interval_s = interval_s

    async def run(self) -> None:
        """Run until cancelled."""
        while True:
            try:
                for key in await asyncio.to_thread(self.follow_once):
                    self._notify(key)
            except DockyardError as exc:
                log.warning("stable follower pass failed: %s", exc.message)
            await asyncio.sleep(self._interval_s)

    def follow_once(self) -> list[EnvKey]:
        """One look at every following service; the keys of stables given a new revision."""
        with self._db.session() as session:
            wanted = promotions.followings(session)
        changed = []
        for following in wanted:
            try:
                key = self._follow(following)
            except DockyardError as exc:  # one service's trouble must not stop the others
                log.warning(
                    "stable of team=%s service=%s not updated: %s",
                    following.team, following.service, exc.message,
                )  # fmt: skip
                continue
            if key is not None:
                changed.append(key)
        return changed

    def _follow(self, following: Following) -> EnvKey | None:
        with self._db.session() as session:
            facts = promotions.facts(session, following.service_id)
            image = decide(facts[following.source], facts[Environment.STABLE])
            if image is None:
                return None
            release = release_image(
                session, Change(_on_behalf_of(following.team), self._clock()),
                team=following.team, service=following.service, env=Environment.STABLE,
                image=image,
                cause=f"stable follows {following.source.value} revision "
                f"{facts[following.source].revision}",
            )  # fmt: skip
            key = key_for(
                session, team=following.team, service=following.service, env=Environment.STABLE
            )
        log.info(
            "stable follows team=%s service=%s revision=%s",
            following.team, following.service, release.number,
        )  # fmt: skip
        return key


def _on_behalf_of(team: str) -> Principal:
    return Principal(token_id=ON_BEHALF, name=FOLLOWER, team=team)
