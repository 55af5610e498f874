"""`dockyard status`'s row for the disk the platform keeps its state on."""

from __future__ import annotations

from pathlib import Path

from dockyard.cli import health


def test_a_disk_with_room_is_healthy_and_says_how_much(tmp_path: Path) -> None:
    part = health.state_disk(tmp_path / "not-made-yet")
    assert part.part == "state disk"
    assert part.detail.startswith(f"{tmp_path / 'not-made-yet'}: ")
    assert " MiB free of " in part.detail
    assert part.healthy


def test_a_nearly_full_disk_is_unhealthy_and_says_what_to_do(tmp_path: Path) -> None:
    part = health.state_disk(tmp_path, full_below=1 << 60)  # every disk is full by this bar

    assert not part.healthy
    assert "full" in part.detail and "free space on it" in part.detail
