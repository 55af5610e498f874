"""Instance figures from cgroup files: v1 from files copied from a running container on this
machine (cgroups v1), v2 from a fixture tree in the kernel's v2 formats — no v2 host exists
here, so the v2 reader is tested on those files only."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.metrics.cgroup import (
    Layout,
    Usage,
    cores,
    io_service_bytes,
    io_stat_bytes,
    layout_of,
    pairs,
    usage,
    usage_v1,
    usage_v2,
)

FIXTURES = Path(__file__).parent / "fixtures"
V1 = FIXTURES / "cgroup_v1"
V2 = FIXTURES / "cgroup_v2"
CID = "b4bf9df60c399d3b9c39a6b50300d2194b4ceeff93476cc6776899d6d326c12d"


def v1_layout() -> Layout:
    return Layout(1, {name: V1 / name for name in ("cpuacct", "cpu", "memory", "pids", "blkio")})


def test_v1_files_of_a_real_container_read_as_its_figures() -> None:
    # The container: --memory 64m --cpus 0.5 --pids-limit 50, 20 MiB written to its overlay
    # (page cache: inactive_file, not working set) and a busy loop throttled at 0.5 CPU.
    assert usage(v1_layout()) == Usage(
        cpu_s=0.343451329,
        periods=10,
        throttled_periods=6,
        throttled_s=0.261906501,
        memory_bytes=21983232,
        working_set_bytes=21983232 - 20971520,
        limit_bytes=64 * 1024 * 1024,
        cpu_limit_cores=0.5,
        oom_kills=0,
        pids=1,
        read_bytes=0,
        written_bytes=0,
    )


def test_v2_files_read_as_their_figures() -> None:
    assert usage(Layout(2, {"": V2})) == Usage(
        cpu_s=8.523401,
        periods=120,
        throttled_periods=14,
        throttled_s=0.93211,
        memory_bytes=31457280,
        working_set_bytes=31457280 - 20971520,
        limit_bytes=64 * 1024 * 1024,
        cpu_limit_cores=1.5,
        oom_kills=1,
        pids=4,
        read_bytes=1228800 + 4096,
        written_bytes=4096000,
    )


def test_a_gone_container_reads_as_none() -> None:
    assert usage(Layout(1, {})) is None
    assert usage(Layout(2, {"": V2 / "gone"})) is None


@pytest.mark.parametrize(
    ("version", "text", "limit"),
    [
        (1, "9223372036854771712\n", None),  # v1's "no limit"
        (1, "268435456\n", 268435456),
        (2, "max\n", None),
        (2, "268435456\n", 268435456),
    ],
)
def test_no_memory_limit_reads_as_none(version: int, text: str, limit: int | None) -> None:
    files = {"cpuacct.usage": "1\n", "cpu.stat": "usage_usec 1\n"}
    files["memory.limit_in_bytes" if version == 1 else "memory.max"] = text
    read = usage_v1 if version == 1 else usage_v2
    figures = read(files.get)
    assert figures is not None and figures.limit_bytes == limit


@pytest.mark.parametrize(
    ("version", "files", "limit"),
    [
        (1, {"cpu.cfs_quota_us": "-1\n", "cpu.cfs_period_us": "100000\n"}, None),  # v1: none
        (1, {"cpu.cfs_quota_us": "200000\n", "cpu.cfs_period_us": "100000\n"}, 2.0),
        (1, {"cpu.cfs_quota_us": "25000\n", "cpu.cfs_period_us": "50000\n"}, 0.5),
        (1, {}, None),  # no cpu controller files: no limit known
        (2, {"cpu.max": "max 100000\n"}, None),  # v2: none
        (2, {"cpu.max": "150000 100000\n"}, 1.5),
        (2, {}, None),
    ],
)
def test_the_cpu_limit_is_the_cfs_quota_over_its_period(
    version: int, files: dict[str, str], limit: float | None
) -> None:
    files = {"cpuacct.usage": "1\n", "cpu.stat": "usage_usec 1\n", **files}
    read = usage_v1 if version == 1 else usage_v2
    figures = read(files.get)
    assert figures is not None and figures.cpu_limit_cores == limit


@pytest.mark.parametrize(
    ("quota", "period"), [("0", "100000"), ("100000", "0"), ("x", "100000"), (None, None), ("", "")]
)
def test_a_garbled_cpu_quota_reads_as_no_limit(quota: str | None, period: str | None) -> None:
    assert cores(quota, period) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Total 0\n", (0, 0)),
        (
            "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Total 12288\n"
            "8:16 Read 100\n8:16 Write 0\n8:16 Total 100\nTotal 12388\n",
            (4196, 8192),
        ),
        ("", (0, 0)),
    ],
)
def test_v1_block_io_sums_devices_without_totals(text: str, expected: tuple[int, int]) -> None:
    assert io_service_bytes(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n", (10, 20)),
        ("8:0 rbytes=10 wbytes=20\n253:0 rbytes=5 wbytes=0\n", (15, 20)),
        ("", (0, 0)),
    ],
)
def test_v2_block_io_sums_devices(text: str, expected: tuple[int, int]) -> None:
    assert io_stat_bytes(text) == expected


def test_pairs_skip_lines_of_other_shapes() -> None:
    assert pairs("a 1\nb x\nc\n d 2\ne 3\n") == {"a": 1, "e": 3}


@pytest.mark.parametrize(
    ("proc_cgroup", "expected"),
    [
        (  # Docker's cgroupfs driver on a v1 host with co-mounted cpu,cpuacct (this machine's kind)
            f"12:pids:/docker/{CID}\n4:cpu,cpuacct:/docker/{CID}\n3:memory:/docker/{CID}\n"
            f"2:blkio:/docker/{CID}\n1:name=systemd:/docker/{CID}\n0::/system.slice/x\n",
            Layout(1, {c: Path("/cg", c, "docker", CID)
                       for c in ("pids", "cpu", "cpuacct", "memory", "blkio")}),
        ),
        (  # systemd driver on a v2 host
            f"0::/system.slice/docker-{CID}.scope\n",
            Layout(2, {"": Path(f"/cg/system.slice/docker-{CID}.scope")}),
        ),
        (f"0::/docker/{CID}\n", Layout(2, {"": Path("/cg/docker", CID)})),  # cgroupfs on v2
        ("", None),
        ("garbage\n", None),
    ],
)  # fmt: skip
def test_layout_follows_the_process_cgroup_file(proc_cgroup: str, expected: Layout | None) -> None:
    assert layout_of(proc_cgroup, root=Path("/cg")) == expected
