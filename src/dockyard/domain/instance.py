"""Instances as runtimes see them, and the labels that tie a container back to its owner."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from dockyard.domain.environment import Environment
from dockyard.domain.ids import InstanceId
from dockyard.domain.spec import MAX_BANDWIDTH_MBIT, Bandwidth, ServiceSpec

LABEL_PREFIX = "io.dockyard."
LABEL_MANAGED = LABEL_PREFIX + "managed"
LABEL_TEAM = LABEL_PREFIX + "team"
LABEL_SERVICE = LABEL_PREFIX + "service"
LABEL_ENV = LABEL_PREFIX + "env"
LABEL_REVISION = LABEL_PREFIX + "revision"
LABEL_INSTANCE = LABEL_PREFIX + "instance"
LABEL_TEMPLATE = LABEL_PREFIX + "template"
# The installation that made the container: several Dockyards may share one engine (Platform).
LABEL_PLATFORM = LABEL_PREFIX + "platform"
# The bandwidth limits of the revision an instance was started with (absent: unlimited). Labels
# cannot change on a running container, so the agent takes current limits from the platform and
# falls back on these only while the platform cannot be reached (agent/bandwidth.py).
LABEL_EGRESS_MBIT = LABEL_PREFIX + "egress-mbit"
LABEL_INGRESS_MBIT = LABEL_PREFIX + "ingress-mbit"


class RunState(enum.StrEnum):
    """What the runtime says a container is doing (not whether it is healthy)."""

    CREATED = "created"
    RUNNING = "running"
    EXITED = "exited"


@dataclass(frozen=True)
class Platform:
    """One Dockyard installation: what its runtime labels containers with, and which labelled
    containers it counts as its own, so two installations on one engine never touch each
    other's. The id is made once by a migration and kept in the platform database.

    Containers made before this label existed carry none; a platform whose database predates
    it (`adopts_unlabelled`) counts those as its own too, the others leave them alone.
    """

    id: str
    adopts_unlabelled: bool = False

    def owns(self, labels: Mapping[str, str]) -> bool:
        """True if a container with `labels` is this platform's."""
        found = labels.get(LABEL_PLATFORM)
        return found == self.id or (found is None and self.adopts_unlabelled)


@dataclass(frozen=True)
class Owner:
    """Who an instance belongs to. Any field left None matches everything in a selector."""

    team: str | None = None
    service: str | None = None
    env: Environment | None = None

    def labels(self) -> dict[str, str]:
        """The owner labels a selected container carries (the fields that are set)."""
        given = {
            LABEL_TEAM: self.team,
            LABEL_SERVICE: self.service,
            LABEL_ENV: self.env.value if self.env else None,
        }
        return {label: value for label, value in given.items() if value is not None}

    def selector(self) -> list[str]:
        """An engine's label filter for Dockyard's containers of this owner (any platform)."""
        return [LABEL_MANAGED] + [f"{k}={v}" for k, v in self.labels().items()]

    def selects(self, labels: Mapping[str, str], platform: Platform | None) -> bool:
        """True for a Dockyard container of this owner and of `platform` (None: any)."""
        return (
            LABEL_MANAGED in labels
            and (platform is None or platform.owns(labels))
            and all(labels.get(k) == v for k, v in self.labels().items())
        )


@dataclass(frozen=True)
class InstanceSpec:
    """Everything a runtime needs to start one instance."""

    team: str
    service: str
    env: Environment
    revision: int
    instance_id: InstanceId
    spec: ServiceSpec
    network: str | None = None
    """The network to join instead of the runtime's default one: the Docker network of a
    segment serving this environment, whose addresses come from IPAM (network/ipam)."""

    @property
    def name(self) -> str:
        """Readable and unique: dy-TEAM-SERVICE-ENV-ID."""
        return f"dy-{self.team}-{self.service}-{self.env.value}-{self.instance_id}"

    @property
    def labels(self) -> dict[str, str]:
        labels = {
            LABEL_MANAGED: "true",
            LABEL_TEAM: self.team,
            LABEL_SERVICE: self.service,
            LABEL_ENV: self.env.value,
            LABEL_REVISION: str(self.revision),
            LABEL_INSTANCE: self.instance_id,
            LABEL_TEMPLATE: self.spec.template_hash,
        }
        bandwidth = self.spec.bandwidth
        if bandwidth.egress_mbit is not None:
            labels[LABEL_EGRESS_MBIT] = str(bandwidth.egress_mbit)
        if bandwidth.ingress_mbit is not None:
            labels[LABEL_INGRESS_MBIT] = str(bandwidth.ingress_mbit)
        return labels


@dataclass(frozen=True)
class Observed:
    """One instance as the runtime reports it, rebuilt from labels alone."""

    instance_id: InstanceId
    team: str
    service: str
    env: Environment
    revision: int
    template_hash: str
    runtime_id: str
    state: RunState
    exit_code: int | None = None
    ip: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    adopted: bool = False
    """Made before platform labels (it names no platform) and listed because this platform
    adopts such containers: its reconciler manages it, but no orphan collector removes it,
    since which installation made it is unknown."""


def owner_from_labels(labels: dict[str, str]) -> tuple[str, str, Environment, int, str, str] | None:
    """Parse Dockyard's labels; None if they are missing or malformed (not ours to touch)."""
    try:
        return (
            labels[LABEL_TEAM],
            labels[LABEL_SERVICE],
            Environment(labels[LABEL_ENV]),
            int(labels[LABEL_REVISION]),
            labels[LABEL_INSTANCE],
            labels[LABEL_TEMPLATE],
        )
    except (KeyError, ValueError):
        return None


def bandwidth_from_labels(labels: dict[str, str]) -> Bandwidth:
    """The limits an instance was started with; a missing or malformed label means unlimited."""

    def mbit(label: str) -> int | None:
        try:
            value = int(labels.get(label, ""))
        except ValueError:
            return None
        return value if 1 <= value <= MAX_BANDWIDTH_MBIT else None

    return Bandwidth(egress_mbit=mbit(LABEL_EGRESS_MBIT), ingress_mbit=mbit(LABEL_INGRESS_MBIT))
