"""Every host and instance metric the agent exposes, declared once: name, type, help, labels.
The collectors (metrics/instances.py, metrics/host.py) only fill them; the log center's own
families stay in metrics/logcenter.py, served from the same registry.

Counters are named without `_total`: prometheus-client adds it when it renders them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

INSTANCE_LABELS = ("team", "service", "env", "instance", "host")
HOST_LABELS = ("host",)
PATH_LABELS = ("host", "path")

Family = CounterMetricFamily | GaugeMetricFamily


@dataclass(frozen=True)
class Definition:
    """One metric family: `kind` is its Prometheus type; every sample carries `labels`."""

    name: str
    kind: Literal["counter", "gauge"]
    help: str
    labels: tuple[str, ...] = INSTANCE_LABELS

    def family(self) -> Family:
        """An empty family of this definition, for a collector to add samples to."""
        if self.kind == "counter":
            return CounterMetricFamily(self.name, self.help, labels=self.labels)
        return GaugeMetricFamily(self.name, self.help, labels=self.labels)


def _counter(name: str, text: str, labels: tuple[str, ...] = INSTANCE_LABELS) -> Definition:
    return Definition(name, "counter", text, labels)


def _gauge(name: str, text: str, labels: tuple[str, ...] = INSTANCE_LABELS) -> Definition:
    return Definition(name, "gauge", text, labels)


# Per instance, from its cgroup files (metrics/cgroup.py).
CPU = _counter("dockyard_instance_cpu_seconds", "CPU time the instance used.")
CPU_PERIODS = _counter("dockyard_instance_cpu_periods", "CFS periods the instance ran in.")
CPU_THROTTLED = _counter(
    "dockyard_instance_cpu_throttled_periods", "CFS periods the instance hit its CPU limit in."
)
CPU_THROTTLED_S = _counter(
    "dockyard_instance_cpu_throttled_seconds", "Time the instance waited at its CPU limit."
)
CPU_LIMIT = _gauge(
    "dockyard_instance_cpu_limit_cores",
    "The instance's CPU limit in cores: its CFS quota over its period (absent: none).",
)
MEMORY = _gauge(
    "dockyard_instance_memory_usage_bytes", "Memory the instance uses, page cache included."
)
WORKING_SET = _gauge(
    "dockyard_instance_memory_working_set_bytes",
    "Memory the instance uses less its inactive page cache (what the OOM killer looks at).",
)
MEMORY_LIMIT = _gauge(
    "dockyard_instance_memory_limit_bytes", "The instance's memory limit (absent: none)."
)
OOM_KILLS = _counter(
    "dockyard_instance_oom_kills", "Processes the OOM killer ended in the instance."
)
PIDS = _gauge("dockyard_instance_pids", "Processes and threads in the instance.")
BLOCK_READ = _counter(
    "dockyard_instance_block_read_bytes", "Bytes the instance read from block devices."
)
BLOCK_WRITTEN = _counter(
    "dockyard_instance_block_written_bytes", "Bytes the instance wrote to block devices."
)
# Per instance, from its host-side veth (metrics/netdev.py), seen from the instance.
NET_RX = _counter("dockyard_instance_network_receive_bytes", "Bytes the instance received.")
NET_TX = _counter("dockyard_instance_network_transmit_bytes", "Bytes the instance sent.")
NET_RX_PACKETS = _counter(
    "dockyard_instance_network_receive_packets", "Packets the instance received."
)
NET_TX_PACKETS = _counter(
    "dockyard_instance_network_transmit_packets", "Packets the instance sent."
)
NET_RX_DROPS = _counter(
    "dockyard_instance_network_receive_drops", "Packets for the instance dropped on its link."
)
NET_TX_DROPS = _counter(
    "dockyard_instance_network_transmit_drops", "Packets from the instance dropped on its link."
)
# Per instance, from the engine's inspect (once per container start).
RESTARTS = _counter(
    "dockyard_instance_restarts",
    "Times the instance's container started again (seen by this agent, plus the engine's own).",
)
STARTED = _gauge(
    "dockyard_instance_start_time_seconds", "When the container last started (Unix time)."
)
HEALTH_FAILING = _gauge(
    "dockyard_instance_health_failing_streak",
    "Consecutive failures of the image's own engine health check (absent: it has none).",
)

# Per host, from /proc and statvfs (metrics/host.py).
HOST_CPU = Definition(
    "dockyard_host_cpu_seconds", "counter", "CPU time of the host's cores by mode.",
    ("host", "mode"),
)  # fmt: skip
HOST_MEMORY = _gauge("dockyard_host_memory_total_bytes", "The host's memory.", HOST_LABELS)
HOST_MEMORY_AVAILABLE = _gauge(
    "dockyard_host_memory_available_bytes",
    "Memory the host can give without swapping (MemAvailable).",
    HOST_LABELS,
)
HOST_MEMORY_STALLED = Definition(
    "dockyard_host_memory_pressure_stalled_seconds", "counter",
    "Time tasks waited for memory (PSI): `some` of them, or `full`: all at once.",
    ("host", "kind"),
)  # fmt: skip
HOST_LOAD = Definition(
    "dockyard_host_load", "gauge", "The host's load average over `minutes`.",
    ("host", "minutes"),
)  # fmt: skip
HOST_DISK_SIZE = _gauge(
    "dockyard_host_disk_size_bytes", "Size of the filesystem holding `path`.", PATH_LABELS
)
HOST_DISK_FREE = _gauge(
    "dockyard_host_disk_free_bytes",
    "Bytes free for unprivileged users on the filesystem holding `path`.",
    PATH_LABELS,
)
HOST_INODES = _gauge(
    "dockyard_host_inodes", "Inodes of the filesystem holding `path`.", PATH_LABELS
)
HOST_INODES_FREE = _gauge(
    "dockyard_host_inodes_free", "Free inodes of the filesystem holding `path`.", PATH_LABELS
)
HOST_INSTANCES = _gauge(
    "dockyard_host_instances", "Dockyard instances running on the host.", HOST_LABELS
)

INSTANCE = (
    CPU, CPU_PERIODS, CPU_THROTTLED, CPU_THROTTLED_S, CPU_LIMIT, MEMORY, WORKING_SET,
    MEMORY_LIMIT, OOM_KILLS, PIDS, BLOCK_READ, BLOCK_WRITTEN, NET_RX, NET_TX, NET_RX_PACKETS,
    NET_TX_PACKETS, NET_RX_DROPS, NET_TX_DROPS, RESTARTS, STARTED, HEALTH_FAILING,
)  # fmt: skip
HOST = (
    HOST_CPU, HOST_MEMORY, HOST_MEMORY_AVAILABLE, HOST_MEMORY_STALLED, HOST_LOAD,
    HOST_DISK_SIZE, HOST_DISK_FREE, HOST_INODES, HOST_INODES_FREE, HOST_INSTANCES,
)  # fmt: skip


def families(definitions: tuple[Definition, ...]) -> dict[str, Family]:
    """An empty family per definition, by name, in declaration order."""
    return {d.name: d.family() for d in definitions}
