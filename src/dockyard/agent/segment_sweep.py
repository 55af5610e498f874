"""The agent's sweep of deleted segments on one host: their Docker networks `dyseg-NAME` (found
by the label io.dockyard.segment) and VLAN sub-interfaces go once no container is attached.

The agent learns which segments exist from etcd, where the server mirrors the database
(network/ipam/directory.py); a segment absent there was deleted (or never published). One pass
every `interval_s`: list this host's segment networks, *then* read the segments, decide
(`sweep`, pure) and act. In that order a network made for a segment created meanwhile is
always listed after its segment was published, so it is never taken for a deleted one's.

A network with a container attached, running or stopped, is kept and looked at again next
pass: removing it would strand the container (Docker refuses for a live one anyway). An etcd or
engine error ends the pass, never the agent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import docker
from docker.errors import DockerException
from requests.exceptions import RequestException

from dockyard.domain.clock import Clock
from dockyard.domain.errors import DockyardError
from dockyard.network.ipam.directory import Directory
from dockyard.network.segment_networks import (
    IPAM_DRIVER,
    SegmentNetwork,
    remove_segment_network,
    segment_networks_here,
)
from dockyard.network.vlan import VlanLinks, labelled_segments

log = logging.getLogger("dockyard.agent.segments")


@dataclass(frozen=True)
class Sweep:
    """What one pass does about deleted segments."""

    remove: tuple[SegmentNetwork, ...] = ()
    """Networks of deleted segments with nothing attached, absent from etcd for the grace."""
    wait: tuple[SegmentNetwork, ...] = ()
    """Networks of deleted segments that containers still use: kept for now."""
    unlink: tuple[str, ...] = ()
    """Deleted segments whose VLAN sub-interfaces go (with their network, or after it)."""
    absent_since: dict[str, datetime] = field(default_factory=dict)
    """When each segment found here but not in etcd was first seen so: the next pass's input."""


def sweep(
    networks: Sequence[SegmentNetwork],
    *,
    known: Collection[str],
    labelled: Collection[str],
    absent_since: Mapping[str, datetime],
    now: datetime,
    grace: timedelta,
) -> Sweep:
    """Decide, from this host's segment `networks`, the segments etcd `known`s and those VLAN
    sub-interfaces here are `labelled` for, what goes and what waits.

    A segment goes only once absent from etcd for `grace` (per `absent_since`): the server
    commits a segment before it publishes it, and the controller may make its network in
    between. A network with containers attached always waits, and its sub-interface with it.
    """
    found = {network.segment for network in networks} | set(labelled)
    since = {name: absent_since.get(name, now) for name in sorted(found - set(known))}
    due = {name for name, first in since.items() if now - first >= grace}
    gone = [network for network in networks if network.segment in due]
    waiting = tuple(network for network in gone if network.containers)
    kept = {network.segment for network in waiting}
    return Sweep(
        remove=tuple(network for network in gone if not network.containers),
        wait=waiting,
        unlink=tuple(sorted(due - kept)),
        absent_since=since,
    )


class SegmentSweeper:
    """Removes deleted segments' networks here. `run` until cancelled; `run_pass` for tests."""

    def __init__(
        self,
        directory: Directory,
        engine: docker.APIClient,
        *,
        clock: Clock,
        driver: str = IPAM_DRIVER,
        grace: timedelta = timedelta(seconds=60),
        interval_s: float = 10.0,
    ) -> None:
        """`driver`: the IPAM driver this host's agent serves; only its networks are swept.
        `grace`: how long a segment must be absent from etcd before its network goes."""
        self._directory = directory
        self._engine = engine
        self._clock = clock
        self._driver = driver
        self._grace = grace
        self._interval_s = interval_s
        self._waiting: set[str] = set()
        self._absent_since: dict[str, datetime] = {}

    async def run(self) -> None:
        while True:
            await self.run_pass()
            await asyncio.sleep(self._interval_s)

    async def run_pass(self) -> list[str]:
        """One pass; returns the segments whose networks were removed. Never raises for an
        etcd, engine or kernel error (logged; the next pass tries again)."""
        try:
            networks = await asyncio.to_thread(
                segment_networks_here, self._engine, driver=self._driver
            )
            known = {segment.name for segment, _ in await self._directory.load_all()}
            labelled = await asyncio.to_thread(_labelled)
        except DockyardError as exc:
            log.warning("segment sweep skipped reason=%s", exc.message)
            return []
        except (DockerException, RequestException, OSError) as exc:
            log.warning("segment sweep skipped engine=%s", exc)
            return []
        decided = sweep(
            networks,
            known=known,
            labelled=labelled,
            absent_since=self._absent_since,
            now=self._clock(),
            grace=self._grace,
        )
        self._absent_since = decided.absent_since
        return await self._act(decided)

    async def _act(self, decided: Sweep) -> list[str]:
        for network in decided.wait:
            if network.segment not in self._waiting:  # said once, not every pass
                log.info(
                    "network of deleted segment kept segment=%s network=%s containers=%s",
                    network.segment,
                    network.name,
                    ",".join(c[:12] for c in network.containers),
                )
        self._waiting = {network.segment for network in decided.wait}
        removed, unlink = [], set(decided.unlink)
        for network in decided.remove:
            if await self._remove(network):
                removed.append(network.segment)
            else:
                unlink.discard(network.segment)
        for segment in sorted(unlink):
            try:
                await asyncio.to_thread(_detach, segment)
            except (DockyardError, OSError) as exc:
                log.warning("vlan sub-interface kept segment=%s reason=%s", segment, exc)
        return removed

    async def _remove(self, network: SegmentNetwork) -> bool:
        try:
            gone = await asyncio.to_thread(remove_segment_network, self._engine, network)
        except (DockyardError, DockerException, RequestException, OSError) as exc:
            log.warning(
                "network of deleted segment kept segment=%s reason=%s", network.segment, exc
            )
            return False
        if gone:
            log.info(
                "network of deleted segment removed segment=%s network=%s",
                network.segment,
                network.name,
            )
        return gone


def _labelled() -> set[str]:
    with VlanLinks() as links:
        return labelled_segments(links.links().values())


def _detach(segment: str) -> None:
    with VlanLinks() as links:
        for step in links.detach(segment):
            log.info("vlan sub-interface removed segment=%s interface=%s", segment, step.name)
