"""The agent's instance collector over a fake engine and fixture /proc and cgroup trees: series
labelled by the containers' owner labels and the host, one inspect per container start, restarts
counted, and containers that went away forgotten (nothing grows with instances that came and
went). Its output and the host collector's pass `promtool check metrics`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dockyard.domain.instance import LABEL_ENV, LABEL_INSTANCE, LABEL_SERVICE, LABEL_TEAM
from dockyard.metrics.exposition import registry_of
from dockyard.metrics.host import HostCollector
from dockyard.metrics.instances import InstanceCollector, Listed, Started

V2 = Path(__file__).parent / "fixtures" / "cgroup_v2"
NET_DEV = "  eth0:  736  8  0  2  0  0  0  0  420  5  0  1  0  0  0  0\n"


class FakeEngine:
    """Containers by id: (labels, running, pid, started_at); counts inspects."""

    def __init__(self) -> None:
        self.containers: dict[str, tuple[dict[str, str], bool, int, float]] = {}
        self.inspected: list[str] = []

    def listed(self) -> list[Listed]:
        return [Listed(cid, labels, running) for cid, (labels, running, _, _) in
                self.containers.items()]  # fmt: skip

    def started(self, container_id: str) -> Started | None:
        self.inspected.append(container_id)
        found = self.containers.get(container_id)
        if found is None or not found[1]:
            return None
        return Started(pid=found[2], started_at=found[3], engine_restarts=0, health_failing=None)


def owner(instance: str, team: str = "alpha") -> dict[str, str]:
    return {LABEL_TEAM: team, LABEL_SERVICE: "web", LABEL_ENV: "test", LABEL_INSTANCE: instance}


class Host:
    """A fixture /proc and cgroup v2 tree for processes of fake containers."""

    def __init__(self, root: Path) -> None:
        self.proc, self.cgroup, self.net = root / "proc", root / "cgroup", root / "net"
        self.net.mkdir(parents=True)

    def spawn(self, pid: int, cid: str) -> None:
        folder = self.proc / str(pid)
        (folder / "net").mkdir(parents=True)
        (folder / "cgroup").write_text(f"0::/docker/{cid}\n")
        (folder / "net/dev").write_text(NET_DEV)
        if not (self.cgroup / "docker" / cid).exists():
            shutil.copytree(V2, self.cgroup / "docker" / cid)

    def end(self, pid: int) -> None:
        shutil.rmtree(self.proc / str(pid))

    def collector(self, engine: FakeEngine) -> InstanceCollector:
        return InstanceCollector(
            engine, host="h1", proc=self.proc, cgroup_root=self.cgroup, sys_net=self.net
        )


def samples(collector: InstanceCollector) -> dict[tuple[str, str], float]:
    text = generate_latest(registry_of(collector)).decode()
    return {
        (s.name, s.labels["instance"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("dockyard_instance_")
    }


def test_running_instances_have_labelled_series(tmp_path: Path) -> None:
    host, engine = Host(tmp_path), FakeEngine()
    engine.containers = {"c1": (owner("web-1"), True, 101, 1000.0),
                         "c2": (owner("web-2"), False, 0, 0.0),
                         "x": ({"other": "label"}, True, 103, 1.0)}  # fmt: skip
    host.spawn(101, "c1")
    collector = host.collector(engine)
    collector.refresh()
    got = samples(collector)
    assert got[("dockyard_instance_cpu_seconds_total", "web-1")] == 8.523401
    assert got[("dockyard_instance_memory_working_set_bytes", "web-1")] == 31457280 - 20971520
    assert got[("dockyard_instance_network_receive_bytes_total", "web-1")] == 736
    assert got[("dockyard_instance_pids", "web-1")] == 4
    assert got[("dockyard_instance_cpu_limit_cores", "web-1")] == 1.5
    assert got[("dockyard_instance_start_time_seconds", "web-1")] == 1000.0
    assert {instance for _, instance in got} == {"web-1"}  # stopped and foreign: no series
    text = generate_latest(registry_of(collector)).decode()
    assert 'host="h1"' in text and 'team="alpha"' in text and 'env="test"' in text


def test_an_instance_without_a_cpu_limit_has_no_limit_series(tmp_path: Path) -> None:
    host, engine = Host(tmp_path), FakeEngine()
    engine.containers = {"c1": (owner("web-1"), True, 101, 1000.0),
                         "c2": (owner("web-2"), True, 102, 1000.0)}  # fmt: skip
    host.spawn(101, "c1")
    host.spawn(102, "c2")
    (host.cgroup / "docker" / "c2" / "cpu.max").write_text("max 100000\n")
    collector = host.collector(engine)
    collector.refresh()
    limits = {i: v for (name, i), v in samples(collector).items()
              if name == "dockyard_instance_cpu_limit_cores"}  # fmt: skip
    assert limits == {"web-1": 1.5}


def test_inspected_once_per_start_and_restarts_counted(tmp_path: Path) -> None:
    host, engine = Host(tmp_path), FakeEngine()
    engine.containers = {"c1": (owner("web-1"), True, 101, 1000.0)}
    host.spawn(101, "c1")
    collector = host.collector(engine)
    for _ in range(3):
        collector.refresh()
    assert engine.inspected == ["c1"]
    host.end(101)  # restarted in place between two listings: a new PID
    host.spawn(202, "c1")
    engine.containers["c1"] = (owner("web-1"), True, 202, 2000.0)
    collector.refresh()
    collector.refresh()
    assert engine.inspected == ["c1", "c1"]
    assert samples(collector)[("dockyard_instance_restarts_total", "web-1")] == 1


def test_removed_containers_are_forgotten(tmp_path: Path) -> None:
    host, engine = Host(tmp_path), FakeEngine()
    collector = host.collector(engine)
    for round_ in range(50):  # instances come and go: what is kept follows the listing
        cid = f"c{round_}"
        host.spawn(1000 + round_, cid)
        engine.containers = {cid: (owner(f"web-{round_}"), True, 1000 + round_, 1.0)}
        collector.refresh()
        assert list(collector.tracked) == [cid]
        assert {i for _, i in samples(collector)} == {f"web-{round_}"}
    engine.containers = {}
    collector.refresh()
    assert collector.tracked == {} and samples(collector) == {}


def test_promtool_accepts_the_instance_and_host_metrics(tmp_path: Path) -> None:
    host, engine = Host(tmp_path), FakeEngine()
    engine.containers = {"c1": (owner("web-1"), True, 101, 1000.0)}
    host.spawn(101, "c1")
    instances = host.collector(engine)
    instances.refresh()
    hosts = HostCollector(host="h1", paths=[str(tmp_path), "/"], instances=instances.running)
    text = generate_latest(registry_of(instances, hosts)).decode()
    assert 'dockyard_host_instances{host="h1"} 1.0' in text
    assert 'dockyard_host_disk_free_bytes{host="h1",path="/"}' in text
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: ./run tests installs it (Debian's prometheus)"
    checked = subprocess.run(
        [promtool, "check", "metrics"],
        check=False,
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
