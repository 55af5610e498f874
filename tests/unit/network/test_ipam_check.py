"""`ipam check`'s comparison of etcd with the runtime, by table: each disagreement found once,
saying what etcd holds and what the runtime reports."""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import IPv4Address

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.ids import InstanceId
from dockyard.domain.instance import Observed, RunState
from dockyard.domain.segment import Segment
from dockyard.network.ipam.check import SeenInstance, compare
from dockyard.network.ipam.records import Holder, Lease

SINCE = datetime(2026, 1, 1, tzinfo=UTC)
SEGMENT = Segment.parse(name="s1", cidr="10.0.0.0/24", gateway=None, environments=["test"])


def lease(
    address: str, *, instance: str | None, container: str | None = None, kind: str = "docker"
) -> Lease:
    holder = Holder("h1", "c", SINCE, kind=kind, instance=instance, container=container)
    return Lease("s1", IPv4Address(address), holder, revision=3, created_revision=3)


def seen(
    instance: str, ip: str | None, *, container: str = "cid", state: str = "running"
) -> SeenInstance:
    return SeenInstance(
        instance, "shop", "web", "test", IPv4Address(ip) if ip else None, container, state
    )


@pytest.mark.parametrize(
    ("leases", "instances", "expected"),
    [
        # clean: each instance holds the address it runs with
        ([lease("10.0.0.2", instance="i1")], [seen("i1", "10.0.0.2")], []),
        # clean: a record without an instance id matches by container id
        (
            [lease("10.0.0.2", instance=None, container="c7")],
            [seen("x", "10.0.0.2", container="c7")],
            [],
        ),
        # leak: nobody the runtime reports
        ([lease("10.0.0.2", instance="gone")], [], [("leak", "10.0.0.2")]),
        # leak: the instance is there but stopped, so it has no address
        (
            [lease("10.0.0.2", instance="i1")],
            [seen("i1", None, state="exited")],
            [("leak", "10.0.0.2")],
        ),
        # unrecorded: an instance uses a segment address nobody holds
        ([], [seen("i1", "10.0.0.5")], [("unrecorded", "10.0.0.5")]),
        # not ours to judge: an address outside every segment, a CNI holder
        ([], [seen("i1", "172.17.0.5")], []),
        ([lease("10.0.0.2", instance="pod", kind="cni")], [], []),
        # mismatch: held for i1, which runs with another address (nobody holds that one)
        (
            [lease("10.0.0.2", instance="i1")],
            [seen("i1", "10.0.0.3")],
            [("mismatch", "10.0.0.2"), ("unrecorded", "10.0.0.3")],
        ),
        # mismatch: i2 runs with an address held for i1 (also running with it)
        (
            [lease("10.0.0.2", instance="i1")],
            [seen("i1", "10.0.0.2", container="a"), seen("i2", "10.0.0.2", container="b")],
            [("mismatch", "10.0.0.2")],
        ),
        # mismatch: a Docker instance runs with an address a Kubernetes pod holds
        (
            [lease("10.0.0.2", instance="pod", kind="cni")],
            [seen("i1", "10.0.0.2")],
            [("mismatch", "10.0.0.2")],
        ),
    ],
)
def test_every_disagreement_is_found_once_by_address(
    leases: list[Lease], instances: list[SeenInstance], expected: list[tuple[str, str]]
) -> None:
    found = compare(leases, instances, [SEGMENT])
    assert [(f.kind, str(f.address)) for f in found] == expected


def test_a_finding_says_what_etcd_holds_and_what_the_runtime_reports() -> None:
    (leak,) = compare([lease("10.0.0.2", instance="gone", container="c" * 64)], [], [SEGMENT])
    public = leak.public()
    assert public["etcd"] == (
        "held for instance gone (container cccccccccccc) by host h1 since 2026-01-01T00:00:00+00:00"
    )
    assert public["runtime"] == "reports no such instance or container"
    assert "dockyard ipam release" in public["detail"]


def test_an_instance_is_seen_with_its_address_only_while_it_runs() -> None:
    def observed(state: RunState) -> Observed:
        return Observed(
            instance_id=InstanceId("i1"),
            team="shop",
            service="web",
            env=Environment.TEST,
            revision=1,
            template_hash="t",
            runtime_id="c1",
            state=state,
            ip="10.0.0.2",
        )

    assert SeenInstance.of(observed(RunState.RUNNING)).ip == IPv4Address("10.0.0.2")
    stopped = SeenInstance.of(observed(RunState.EXITED))
    assert (stopped.ip, stopped.state, stopped.container) == (None, "exited", "c1")
