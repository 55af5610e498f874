"""The host's figures from /proc text and statvfs."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.metrics.host import cpu_seconds, disk, load, memory, memory_stalled, read_host

STAT = (
    "cpu  1799733 8447 404167 3026439 13441 0 25297 91055 0 0\n"
    "cpu0 899866 4223 202083 1513219 6720 0 12648 45527 0 0\n"
    "intr 1 2 3\nctxt 99\n"
)


def test_cpu_seconds_per_mode_from_the_aggregate_line() -> None:
    assert cpu_seconds(STAT, ticks=100) == {
        "user": 17997.33, "nice": 84.47, "system": 4041.67, "idle": 30264.39,
        "iowait": 134.41, "irq": 0.0, "softirq": 252.97, "steal": 910.55,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MemTotal:       24683784 kB\nMemFree: 1 kB\nMemAvailable:   23210684 kB\n",
         (24683784 * 1024, 23210684 * 1024)),
        ("MemTotal: 10 kB\n", (10240, 0)),  # kernels before 3.14 have no MemAvailable
        ("", (0, 0)),
    ],
)  # fmt: skip
def test_memory_total_and_available(text: str, expected: tuple[int, int]) -> None:
    assert memory(text) == expected


def test_load_averages() -> None:
    assert load("1.22 0.91 1.53 3/186 7176\n") == (1.22, 0.91, 1.53)


def test_disk_use_of_a_directory_and_none_for_a_missing_one(tmp_path: Path) -> None:
    found = disk(str(tmp_path))
    assert found is not None and found.size_bytes >= found.free_bytes > 0
    assert found.inodes >= found.inodes_free > 0
    assert disk(str(tmp_path / "missing")) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("some avg10=0.00 avg60=0.00 avg300=0.00 total=2500000\n"
         "full avg10=0.00 avg60=0.00 avg300=0.00 total=1000000\n",
         {"some": 2.5, "full": 1.0}),
        ("some avg10=0.00 avg60=0.00 avg300=0.00 total=7\n", {"some": 7e-6}),  # kernels < 5.13
        ("", {}),
    ],
)  # fmt: skip
def test_memory_stall_seconds_from_pressure_stall_information(
    text: str, expected: dict[str, float]
) -> None:
    assert memory_stalled(text) == expected


def test_host_without_pressure_stall_information_reports_no_stall(tmp_path: Path) -> None:
    (tmp_path / "stat").write_text(STAT)
    (tmp_path / "meminfo").write_text("MemTotal: 10 kB\nMemAvailable: 5 kB\n")
    (tmp_path / "loadavg").write_text("0.1 0.2 0.3 1/2 3\n")
    assert read_host([], proc=tmp_path).memory_stalled_s == {}
    (tmp_path / "pressure").mkdir()
    (tmp_path / "pressure" / "memory").write_text("full avg10=0 total=3000000\n")
    assert read_host([], proc=tmp_path).memory_stalled_s == {"full": 3.0}
