"""The agent's instance metrics, first part: CPU time of one collection round (every running
instance's cgroup files and veth read, rendered as Prometheus text) for N running containers,
beside the Docker stats API's time for the same containers in the same run (`one-shot` stats,
one container after another, as a collector on that API would ask).

Everything runs on this host: N busybox containers with Dockyard's labels on Docker's default
bridge, removed at the end.

Run: .venv/bin/python -m benchmarks.monitoring [--containers 20] [--rounds 50]

`--reaction` measures the autoscaler instead: a load step (a CPU burner switched on in the
instances of a service at 0.2 CPU each) -> the autoscaler's decision -> every new instance
healthy; beside it, in the same run, the same scale-out by hand (`dockyard scale`, from cold:
no standby) on a service of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
from prometheus_client import generate_latest

from benchmarks.harness import median
from dockyard.agent.metrics import DockerContainers
from dockyard.domain.autoscaling import Metric, Policy
from dockyard.domain.instance import (
    LABEL_ENV,
    LABEL_INSTANCE,
    LABEL_MANAGED,
    LABEL_SERVICE,
    LABEL_TEAM,
)
from dockyard.metrics.exposition import registry_of
from dockyard.metrics.host import HostCollector
from dockyard.metrics.instances import InstanceCollector
from tests.support.autoscaling import autoscaling_loop
from tests.support.engine import ensure_engine
from tests.support.fixtures import remove_team_containers
from tests.support.images import ensure_test_image


@contextmanager
def containers(client: docker.APIClient, count: int) -> Iterator[list[str]]:
    """`count` running containers labelled as one team's instances, removed afterwards."""
    team = "bench" + secrets.token_hex(3)
    image = ensure_test_image(client)
    ids: list[str] = []
    try:
        for n in range(count):
            labels = {LABEL_MANAGED: "true", LABEL_TEAM: team, LABEL_SERVICE: "web",
                      LABEL_ENV: "test", LABEL_INSTANCE: f"web-{n}"}  # fmt: skip
            created = client.create_container(image, command=["sleep", "3600"], labels=labels)
            ids.append(str(created["Id"]))
            client.start(created["Id"])
        yield ids
    finally:
        for cid in ids:
            client.remove_container(cid, force=True)


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def collection_rounds(
    collector: InstanceCollector, hosts: HostCollector, rounds: int
) -> list[float]:
    """CPU seconds of each scrape-time round (files read, text rendered)."""
    registry = registry_of(collector, hosts)
    out = []
    for _ in range(rounds):
        before = cpu_s()
        generate_latest(registry)
        out.append(cpu_s() - before)
    return out


def read_rounds(collector: InstanceCollector, rounds: int) -> list[float]:
    """CPU seconds of each round of reading alone (cgroup files and veths, no rendering)."""
    out = []
    for _ in range(rounds):
        before = cpu_s()
        list(collector.collect())
        out.append(cpu_s() - before)
    return out


def stats_api_s(client: docker.APIClient, ids: list[str]) -> float:
    """Wall seconds to ask the stats API once for every container, one after another."""
    began = time.perf_counter()
    for cid in ids:
        client.stats(cid, stream=False, one_shot=True)
    return time.perf_counter() - began


START, TARGET = 3, 13
"""The reaction's scale-out: 3 instances at 500 % of target -> 13 (the policy's max)."""


async def _autoscaled(client: docker.APIClient, image: str, work: Path) -> tuple[float, float]:
    """Seconds from the load step to the decision, and to every new instance ready."""
    team = "bench" + secrets.token_hex(3)
    try:
        async with autoscaling_loop(work / "auto", client, team=team, image=image) as loop:
            loop.deploy(START)
            await loop.wait_for(lambda: loop.ready(START), "the first instances", timeout_s=120)
            loop.set_policy(
                Policy(
                    min_replicas=START, max_replicas=TARGET, metric=Metric.CPU, target_percent=20.0
                )
            )
            await loop.wait_for(lambda: loop.status().startswith("active"), "first figures")
            loop.burn(on=True)
            decided = await loop.wait_for(lambda: loop.replicas() > START, "a decision")
            ready = await loop.wait_for(
                lambda: loop.ready(loop.replicas()), "every instance ready", timeout_s=120
            )
            current = loop.view().current
            cause = current.cause if current is not None else "-"
            print(f"autoscaler: {START} -> {loop.replicas()} ({cause})")
            return decided, decided + ready
    finally:
        remove_team_containers(client, team)


async def _by_hand(client: docker.APIClient, image: str, work: Path) -> float:
    """Seconds from `dockyard scale` (START -> TARGET) to every new instance ready."""
    team = "bench" + secrets.token_hex(3)
    try:
        async with autoscaling_loop(work / "hand", client, team=team, image=image) as loop:
            loop.deploy(START)
            await loop.wait_for(lambda: loop.ready(START), "the first instances", timeout_s=120)
            began = time.monotonic()
            loop.scale(TARGET)
            await loop.wait_for(lambda: loop.ready(TARGET), "every instance", timeout_s=120)
            return time.monotonic() - began
    finally:
        remove_team_containers(client, team)


def reaction(client: docker.APIClient) -> None:
    image = ensure_test_image(client)
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        (Path(tmp) / "auto").mkdir()
        (Path(tmp) / "hand").mkdir()
        decided, ready = asyncio.run(_autoscaled(client, image, Path(tmp)))
        by_hand = asyncio.run(_by_hand(client, image, Path(tmp)))
    print(f"load step -> autoscaler's decision: {decided:.1f} s")
    print(f"load step -> every new instance healthy (autoscaler): {ready:.1f} s (target <= 10 s)")
    print(f"baseline, same run: `dockyard scale` {START} -> {TARGET} by hand, from cold, "
          f"-> every new instance healthy: {by_hand:.1f} s")  # fmt: skip
    print(f"autoscaler's own share (decision): {decided:.1f} s; the rest is starting instances")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--reaction", action="store_true", help="Measure the autoscaler.")
    args = parser.parse_args()
    ensure_engine()
    client = docker.APIClient(version="1.41", timeout=120)
    if args.reaction:
        reaction(client)
        client.close()
        return
    with containers(client, args.containers) as ids:
        collector = InstanceCollector(DockerContainers(client), host="bench")
        hosts = HostCollector(host="bench", paths=["/var/lib/docker"], instances=collector.running)
        began, before = time.perf_counter(), cpu_s()
        collector.refresh()  # the first listing inspects every container once
        first_s, first_cpu = time.perf_counter() - began, cpu_s() - before
        began, before = time.perf_counter(), cpu_s()
        collector.refresh()  # later listings inspect only what started since
        relist_s, relist_cpu = time.perf_counter() - began, cpu_s() - before
        rounds = collection_rounds(collector, hosts, args.rounds)
        reads = read_rounds(collector, args.rounds)
        stats_s = stats_api_s(client, ids)
    per_round = median(rounds)
    running = collector.running()
    print(f"containers: {len(ids)} (collector tracks {running} running on this engine)")
    print(
        f"first listing (inspect each): {first_s * 1000:.1f} ms wall, {first_cpu * 1000:.1f} ms CPU"
    )
    print(f"later listing: {relist_s * 1000:.1f} ms wall, {relist_cpu * 1000:.1f} ms CPU")
    print(
        f"collection round: median {per_round * 1000:.2f} ms CPU "
        f"({per_round / max(running, 1) * 1000:.3f} ms per container)"
    )
    read = median(reads)
    print(
        f"  of which reading the instances' files: median {read * 1000:.2f} ms CPU "
        f"({read / max(running, 1) * 1000:.3f} ms per container); the rest is the host's "
        "figures and rendering the text"
    )
    print(
        f"  at a 10 s scrape: {per_round / 10 * 100:.3f} % of one core; at 2 s: "
        f"{per_round / 2 * 100:.3f} %"
    )
    print(
        f"docker stats API, one-shot, same containers: {stats_s * 1000:.0f} ms wall "
        f"({stats_s / len(ids) * 1000:.1f} ms per container)"
    )
    print(f"ratio stats API wall / collection round CPU: {stats_s / max(per_round, 1e-9):.0f}x")
    client.close()


if __name__ == "__main__":
    main()
