"""The agent's bandwidth loop: keeps every running Dockyard instance on this host shaped to the
limits in force, changing them live (an instance is never restarted for a new limit).

Level-triggered, like the controllers: a pass re-reads the running containers, the limits in
force (agent/limits.py) and each veth's shaping as the kernel has it, plans the difference
(network/bandwidth.py, pure) and changes only that. Passes run every `interval_s`; a container
start event shapes that container at once, so a new instance is limited within milliseconds.
A single worker thread does all shaping, so no veth is ever changed by two threads at once.

When the agent stops, shaping stays in place: limits hold while no agent runs, and the next
agent re-reads the kernel and carries on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import DockerException
from docker.errors import NotFound as EngineNotFound
from requests.exceptions import RequestException

from dockyard.agent.limits import LimitKey, Limits, LimitsSource, PlatformLimits
from dockyard.domain.errors import DockyardError, NotFound, Unavailable
from dockyard.domain.instance import (
    LABEL_ENV,
    LABEL_INSTANCE,
    LABEL_SERVICE,
    LABEL_TEAM,
    Owner,
    bandwidth_from_labels,
    owner_from_labels,
)
from dockyard.domain.spec import Bandwidth
from dockyard.network.bandwidth import DeleteIfb, Shaping, plan
from dockyard.network.tc import TrafficControl

log = logging.getLogger("dockyard.agent.bandwidth")

EVENTS_RETRY_S = 2.0
STOP_POLL_S = 0.5  # how soon `run` notices its stop event while idle


def wanted(
    *, known: Limits | None, key: LimitKey, labels: Bandwidth, found: Shaping
) -> Bandwidth | None:
    """The limits one instance should have now; None means leave its shaping as it is.

    The latest answer from the platform rules: a key it lacks is unlimited. Before any answer
    (the server has not been reachable since the agent started), an unshaped instance gets the
    limits it was started with (its labels), so a new instance is never left unlimited; an
    instance already shaped keeps its shaping, which an earlier agent applied from an answer
    that may be newer than the labels.
    """
    if known is not None:
        return known.get(key, Bandwidth())
    return labels if found.empty else None


@dataclass
class PassReport:
    """What one pass did, for logs and tests."""

    instances: int = 0
    changed: int = 0
    failed: int = 0
    orphans_removed: int = 0


class BandwidthEnforcer:
    """Shapes the running Dockyard containers of one Docker engine on this host."""

    def __init__(
        self,
        *,
        engine: docker.APIClient,
        limits: LimitsSource,
        tc: TrafficControl,
        owner: Owner | None = None,
        interval_s: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
        closers: tuple[Callable[[], None], ...] = (),
    ) -> None:
        """`owner` narrows the containers shaped (tests shape only their own team's);
        `closers` release what `close` should (what `connect` opened)."""
        self._engine = engine
        self._closers = closers
        self._limits = limits
        self._tc = tc
        self._owner = owner or Owner()
        self._interval_s = interval_s
        self._monotonic = monotonic
        self._known: Limits | None = None
        self._reachable = True  # until the first failure, so that one is logged
        self._veths: dict[str, str] = {}  # container id -> its host-side veth
        self._stream: Any = None

    @classmethod
    def connect(
        cls,
        *,
        docker_host: str,
        server_url: str,
        token: str,
        interval_s: float,
        owner: Owner | None = None,
    ) -> BandwidthEnforcer:
        """An enforcer for the engine at `docker_host`, asking the server at `server_url` for
        the limits in force. `close()` releases the connections it opens."""
        # A fixed API version (Debian's engine speaks 1.41; newer ones accept it): "auto" asks
        # the engine at once and fails the whole agent while the engine is still starting.
        engine = docker.APIClient(base_url=docker_host, version="1.41")
        limits = PlatformLimits.connect(server_url, token)
        tc = TrafficControl()
        return cls(
            engine=engine, limits=limits, tc=tc, owner=owner, interval_s=interval_s,
            closers=(tc.close, limits.close, engine.close),
        )  # fmt: skip

    def close(self) -> None:
        """Release what `connect` opened; call after `run` has returned."""
        for close in self._closers:
            close()

    # ---- one pass, one container ----

    def sync(self) -> PassReport:
        """One full pass: every running container of `owner` shaped, orphan ifbs removed.

        A failure on one container is logged and counted; the others are still shaped.
        """
        self._refresh_limits()
        report = PassReport()
        containers = self._engine.containers(filters={"label": self._selector()})
        running = {
            c["Id"]: c.get("Labels") or {}
            for c in containers
            if c.get("State") == "running" and self._selected(c.get("Labels") or {})
        }
        self._veths = {cid: veth for cid, veth in self._veths.items() if cid in running}
        for container_id, labels in running.items():
            report.instances += 1
            outcome = self._shape_logged(container_id, labels)
            report.changed += outcome is True
            report.failed += outcome is None
        report.orphans_removed = self._remove_orphans()
        return report

    def enforce(self, container_id: str) -> bool | None:
        """Shape one container now (on its start event): True if something changed, False if
        nothing had to, None if it failed or is not ours to shape."""
        self._refresh_limits()
        try:
            labels = self._engine.inspect_container(container_id)["Config"].get("Labels") or {}
        except EngineNotFound:
            return None
        if not self._selected(labels):
            return None
        return self._shape_logged(container_id, labels)

    def _shape_logged(self, container_id: str, labels: dict[str, str]) -> bool | None:
        try:
            return self._shape(container_id, labels)
        except (NotFound, EngineNotFound):
            self._veths.pop(container_id, None)
            return False  # stopped meanwhile: its veth went with it
        except (DockyardError, DockerException, RequestException) as exc:
            log.error("bandwidth: shaping failed %s error=%s", _keys(labels), exc)
            return None

    def _shape(self, container_id: str, labels: dict[str, str]) -> bool:
        owner = owner_from_labels(labels)
        if owner is None:
            return False
        team, service, env, _, _, _ = owner
        veth, found = self._current_shaping(container_id)
        limits = wanted(
            known=self._known,
            key=LimitKey(team, service, env),
            labels=bandwidth_from_labels(labels),
            found=found,
        )
        if limits is None:
            return False
        changes = plan(veth, limits, found)
        if not changes:
            return False
        self._tc.apply(changes)
        log.info(
            "bandwidth: shaped %s veth=%s egress_mbit=%s ingress_mbit=%s",
            _keys(labels), veth, limits.egress_mbit, limits.ingress_mbit,
        )  # fmt: skip
        return True

    def _current_shaping(self, container_id: str) -> tuple[str, Shaping]:
        """The container's veth and its shaping. A remembered veth that is gone (the container
        was restarted, and got a new one) is looked up again."""
        cached = self._veths.get(container_id)
        if cached is not None:
            try:
                return cached, self._tc.read(cached)
            except NotFound:
                del self._veths[container_id]
        pid = int(self._engine.inspect_container(container_id)["State"].get("Pid") or 0)
        if pid <= 0:
            raise NotFound(f"container {container_id[:12]} is not running")
        veth = self._veths[container_id] = self._tc.veth_of(pid)
        return veth, self._tc.read(veth)

    def _refresh_limits(self) -> None:
        """Fetch the limits in force; on failure keep the last answer (logged once per outage)."""
        try:
            self._known = self._limits.fetch()
        except Unavailable as exc:
            if self._reachable:
                fallback = "keeping the last answer" if self._known is not None else "using labels"
                log.warning("bandwidth: limits unavailable, %s: %s", fallback, exc)
            self._reachable = False
            return
        if not self._reachable:
            log.info("bandwidth: limits available again from the platform")
        self._reachable = True

    def _remove_orphans(self) -> int:
        removed = 0
        try:
            for name in self._tc.orphan_ifbs():
                self._tc.apply([DeleteIfb(name)])
                removed += 1
        except DockyardError as exc:
            log.error("bandwidth: removing orphan ifb devices failed: %s", exc)
        return removed

    def _selector(self) -> list[str]:
        """The engine's label filter for `owner`'s containers."""
        return self._owner.selector()

    def _selected(self, labels: dict[str, str]) -> bool:
        """True for `owner`'s containers of the limits' platform (another Dockyard's on the
        same engine are not ours to shape, nor to unshape)."""
        return self._owner.selects(labels, self._limits.platform)

    # ---- the loop ----

    @property
    def watching(self) -> bool:
        """True while the engine's stream of container start events is open."""
        return self._stream is not None

    def run(self, stop: threading.Event) -> None:
        """Full passes every `interval_s` and a container's shaping on its start event, until
        `stop` is set. Never raises for a failed pass: it logs, and the next pass retries."""
        started: queue.Queue[str] = queue.Queue()
        watcher = threading.Thread(
            target=self._watch, args=(stop, started), name="bandwidth-events", daemon=True
        )
        watcher.start()
        next_pass = self._monotonic()
        try:
            while not stop.is_set():
                if self._monotonic() >= next_pass:
                    self._guarded(self.sync)
                    next_pass = self._monotonic() + self._interval_s
                wait = min(max(next_pass - self._monotonic(), 0.0), STOP_POLL_S)
                try:
                    container_id = started.get(timeout=wait)
                except queue.Empty:
                    continue
                self._guarded(self.enforce, container_id)
        finally:
            stop.set()
            self._close_stream()
            watcher.join(timeout=EVENTS_RETRY_S + 1)

    def _watch(self, stop: threading.Event, started: queue.Queue[str]) -> None:
        """Feeds the ids of started containers to the loop; reconnects when the stream breaks."""
        while not stop.is_set():
            try:
                self._stream = self._engine.events(
                    decode=True,
                    filters={"type": "container", "event": ["start"], "label": self._selector()},
                )
                for event in self._stream:
                    if stop.is_set():
                        return
                    if event.get("id"):
                        started.put(str(event["id"]))
            except (DockerException, RequestException, OSError, ValueError) as exc:
                if not stop.is_set():
                    log.warning("bandwidth: engine events interrupted: %s", exc)
            self._stream = None
            stop.wait(EVENTS_RETRY_S)

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.close()
            except Exception:  # closing a broken stream: nothing left to release
                log.debug("bandwidth: closing the events stream failed", exc_info=True)

    def _guarded(self, work: Callable[..., object], *args: str) -> None:
        try:
            work(*args)
        except (DockyardError, DockerException, RequestException, OSError) as exc:
            log.error("bandwidth: pass failed, retrying at the next one: %s", exc)


def _keys(labels: dict[str, str]) -> str:
    return (
        f"team={labels.get(LABEL_TEAM)} service={labels.get(LABEL_SERVICE)} "
        f"env={labels.get(LABEL_ENV)} instance={labels.get(LABEL_INSTANCE)}"
    )
