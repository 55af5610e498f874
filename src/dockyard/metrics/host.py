"""The host's own figures for the agent's metrics: CPU by mode (/proc/stat), memory
(/proc/meminfo), memory pressure (/proc/pressure/memory, where the kernel has PSI), load
(/proc/loadavg), and disk and inode use of the directories Dockyard and Docker fill (statvfs).
The parsers are pure; `read_host` is the one place that reads the files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from dockyard.metrics import definitions as d

PROC = Path("/proc")
# /proc/stat's cpu line, in the kernel's order; its figures are in clock ticks.
CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Disk:
    """Space and inodes of the filesystem holding `path`."""

    path: str
    size_bytes: int
    free_bytes: int
    inodes: int
    inodes_free: int


@dataclass(frozen=True)
class HostFigures:
    cpu_s: dict[str, float]
    memory_bytes: int
    available_bytes: int
    load: tuple[float, float, float]
    disks: tuple[Disk, ...]
    memory_stalled_s: dict[str, float] = field(default_factory=dict)
    """Seconds tasks waited for memory, `some` (at least one) and `full` (all); empty
    without PSI."""


def cpu_seconds(stat: str, *, ticks: int = TICKS) -> dict[str, float]:
    """Seconds of all cores together per mode, from /proc/stat's aggregate `cpu` line
    (guest time is already inside user and nice, so it is not listed again)."""
    for line in stat.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            return {mode: int(v) / ticks for mode, v in zip(CPU_MODES, fields[1:], strict=False)}
    return {}


def memory(meminfo: str) -> tuple[int, int]:
    """(MemTotal, MemAvailable) in bytes from /proc/meminfo (its figures are in KiB)."""
    found: dict[str, int] = {}
    for line in meminfo.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if key in ("MemTotal", "MemAvailable") and parts and parts[0].isdigit():
            found[key] = int(parts[0]) * 1024
    return found.get("MemTotal", 0), found.get("MemAvailable", 0)


def memory_stalled(pressure: str) -> dict[str, float]:
    """Seconds stalled by kind (`some`, `full`) from /proc/pressure/memory, whose `total=` is
    in microseconds."""
    found: dict[str, float] = {}
    for line in pressure.splitlines():
        kind, *fields = line.split()
        for one in fields:
            key, _, value = one.partition("=")
            if key == "total" and value.isdigit():
                found[kind] = int(value) / 1e6
    return found


def load(loadavg: str) -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages from /proc/loadavg."""
    one, five, fifteen = (float(v) for v in loadavg.split()[:3])
    return one, five, fifteen


def disk(path: str) -> Disk | None:
    """Use of the filesystem holding `path`; None if `path` does not exist (yet)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return Disk(
        path=path,
        size_bytes=st.f_blocks * st.f_frsize,
        free_bytes=st.f_bavail * st.f_frsize,
        inodes=st.f_files,
        inodes_free=st.f_favail,
    )


def read_host(paths: Sequence[str], *, proc: Path = PROC) -> HostFigures:
    """The host's figures now; `paths` are the directories whose filesystems are reported."""
    total, available = memory((proc / "meminfo").read_text())
    disks = tuple(d for d in (disk(p) for p in paths) if d is not None)
    return HostFigures(
        cpu_s=cpu_seconds((proc / "stat").read_text()),
        memory_bytes=total,
        available_bytes=available,
        load=load((proc / "loadavg").read_text()),
        disks=disks,
        memory_stalled_s=_pressure(proc),
    )


def _pressure(proc: Path) -> dict[str, float]:
    try:
        return memory_stalled((proc / "pressure" / "memory").read_text())
    except OSError:  # a kernel without PSI (or with it turned off: psi=0)
        return {}


class HostCollector(Collector):
    """The host's figures at each scrape, labelled `host`; `instances()` counts the Dockyard
    instances running on it (the instance collector's latest listing)."""

    def __init__(
        self, *, host: str, paths: Sequence[str], instances: Callable[[], int], proc: Path = PROC
    ) -> None:
        self._host = host
        self._paths = tuple(paths)
        self._instances = instances
        self._proc = proc

    def collect(self) -> Iterator[Metric]:
        figures = read_host(self._paths, proc=self._proc)
        families = d.families(d.HOST)
        host = [self._host]
        for mode, seconds in figures.cpu_s.items():
            families[d.HOST_CPU.name].add_metric([*host, mode], seconds)
        families[d.HOST_MEMORY.name].add_metric(host, figures.memory_bytes)
        families[d.HOST_MEMORY_AVAILABLE.name].add_metric(host, figures.available_bytes)
        for kind, seconds in figures.memory_stalled_s.items():
            families[d.HOST_MEMORY_STALLED.name].add_metric([*host, kind], seconds)
        for minutes, value in zip(("1", "5", "15"), figures.load, strict=True):
            families[d.HOST_LOAD.name].add_metric([*host, minutes], value)
        for disk_use in figures.disks:
            at = [*host, disk_use.path]
            families[d.HOST_DISK_SIZE.name].add_metric(at, disk_use.size_bytes)
            families[d.HOST_DISK_FREE.name].add_metric(at, disk_use.free_bytes)
            families[d.HOST_INODES.name].add_metric(at, disk_use.inodes)
            families[d.HOST_INODES_FREE.name].add_metric(at, disk_use.inodes_free)
        families[d.HOST_INSTANCES.name].add_metric(host, self._instances())
        yield from families.values()
