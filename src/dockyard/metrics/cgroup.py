"""An instance's CPU, memory, pids and block I/O straight from its cgroup files (v1, one
directory per controller, and v2, one unified directory), never from the engine's stats API:
a round of reads costs ~0.1 ms per container where `docker stats` costs ~0.1 s.

`layout_of` finds a container's directories from its /proc/PID/cgroup once per start; `usage`
reads them at each scrape. The parsers are pure and table-tested on real files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("cpuacct", "cpu", "memory", "pids", "blkio")
# v1 reports "no limit" as the largest page-aligned 63-bit number; anything this big is none.
UNLIMITED = 1 << 62

Read = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Usage:
    """One reading of an instance's cgroup: counters since the container started."""

    cpu_s: float
    periods: int
    throttled_periods: int
    throttled_s: float
    memory_bytes: int
    working_set_bytes: int
    limit_bytes: int | None
    cpu_limit_cores: float | None
    """The CFS quota over its period; None when the instance has no CPU limit."""
    oom_kills: int
    pids: int
    read_bytes: int
    written_bytes: int


@dataclass(frozen=True)
class Layout:
    """Where one container's cgroup files are: v1, a directory per controller (keyed by its
    name); v2, one directory (keyed by "")."""

    version: int
    dirs: Mapping[str, Path]

    def read(self, name: str) -> str | None:
        """The text of file `name` (e.g. `memory.stat`), None if it is not there (gone)."""
        key = "" if self.version == 2 else name.split(".", 1)[0]
        folder = self.dirs.get(key)
        if folder is None:
            return None
        try:
            return (folder / name).read_text()
        except OSError:
            return None


def layout_of(proc_cgroup: str, *, root: Path = CGROUP_ROOT) -> Layout | None:
    """The layout of a process whose /proc/PID/cgroup reads `proc_cgroup`: v1 where it names
    the v1 controllers (hybrid hosts list a unified line too), else v2; None if neither."""
    v1: dict[str, Path] = {}
    unified: Path | None = None
    for line in proc_cgroup.splitlines():
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "", "")
        for name in controllers.split(","):
            if name in V1_CONTROLLERS:
                v1[name] = root / name / path.lstrip("/")  # co-mounted ones are linked by name
        if controllers == "" and path:
            unified = root / path.lstrip("/")
    if "cpuacct" in v1:
        return Layout(1, v1)
    return Layout(2, {"": unified}) if unified is not None else None


def usage(layout: Layout) -> Usage | None:
    """The instance's figures now, None when its CPU file is gone (the container ended)."""
    return usage_v1(layout.read) if layout.version == 1 else usage_v2(layout.read)


def usage_v1(read: Read) -> Usage | None:
    """Figures from cgroup v1 files (`read(name)` gives a file's text or None)."""
    cpu = read("cpuacct.usage")
    if cpu is None:
        return None
    stat = pairs(read("cpu.stat"))
    memory = _int(read("memory.usage_in_bytes"))
    inactive = pairs(read("memory.stat")).get("total_inactive_file", 0)
    limit = _int(read("memory.limit_in_bytes"))
    io = io_service_bytes(read("blkio.throttle.io_service_bytes"))
    return Usage(
        cpu_s=int(cpu) / 1e9,
        periods=stat.get("nr_periods", 0),
        throttled_periods=stat.get("nr_throttled", 0),
        throttled_s=stat.get("throttled_time", 0) / 1e9,
        memory_bytes=memory,
        working_set_bytes=max(memory - inactive, 0),
        limit_bytes=limit if 0 < limit < UNLIMITED else None,
        cpu_limit_cores=cores(read("cpu.cfs_quota_us"), read("cpu.cfs_period_us")),
        oom_kills=pairs(read("memory.oom_control")).get("oom_kill", 0),
        pids=_int(read("pids.current")),
        read_bytes=io[0],
        written_bytes=io[1],
    )


def usage_v2(read: Read) -> Usage | None:
    """Figures from cgroup v2 files (`read(name)` gives a file's text or None)."""
    cpu = read("cpu.stat")
    if cpu is None:
        return None
    stat = pairs(cpu)
    memory = _int(read("memory.current"))
    inactive = pairs(read("memory.stat")).get("inactive_file", 0)
    limit = (read("memory.max") or "max").strip()
    io = io_stat_bytes(read("io.stat"))
    return Usage(
        cpu_s=stat.get("usage_usec", 0) / 1e6,
        periods=stat.get("nr_periods", 0),
        throttled_periods=stat.get("nr_throttled", 0),
        throttled_s=stat.get("throttled_usec", 0) / 1e6,
        memory_bytes=memory,
        working_set_bytes=max(memory - inactive, 0),
        limit_bytes=int(limit) if limit.isdigit() else None,
        cpu_limit_cores=cores(*(read("cpu.max") or "max").split()[:2]),
        oom_kills=pairs(read("memory.events")).get("oom_kill", 0),
        pids=_int(read("pids.current")),
        read_bytes=io[0],
        written_bytes=io[1],
    )


def cores(quota: str | None, period: str | None = None) -> float | None:
    """The CPU limit in cores of a CFS `quota` per `period` (microseconds): v1's two files,
    or v2's `cpu.max` split in two. None when there is no limit: v1 writes -1, v2 `max`, and
    a file that is absent or garbled is read as none rather than as a wrong limit."""
    quota, period = (quota or "").strip(), (period or "").strip()
    if not (quota.isdigit() and period.isdigit()) or int(period) == 0 or int(quota) == 0:
        return None
    return int(quota) / int(period)


def pairs(text: str | None) -> dict[str, int]:
    """`key value` lines (cpu.stat, memory.stat, memory.events, oom_control) as a dict;
    lines of another shape are skipped."""
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


def io_service_bytes(text: str | None) -> tuple[int, int]:
    """(read, written) bytes summed over devices from v1 `blkio.throttle.io_service_bytes`
    (`MAJ:MIN Read N` lines; the `Total` lines are left out, they would count twice)."""
    totals = {"Read": 0, "Write": 0}
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] in totals and fields[2].isdigit():
            totals[fields[1]] += int(fields[2])
    return totals["Read"], totals["Write"]


def io_stat_bytes(text: str | None) -> tuple[int, int]:
    """(read, written) bytes summed over devices from v2 `io.stat`
    (`MAJ:MIN rbytes=N wbytes=N rios=N ...` lines)."""
    read = written = 0
    for line in (text or "").splitlines():
        fields = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
        read += int(fields.get("rbytes", "0"))
        written += int(fields.get("wbytes", "0"))
    return read, written


def _int(text: str | None) -> int:
    value = (text or "").strip()
    return int(value) if value.isdigit() else 0
