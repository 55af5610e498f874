"""`dockyard top`'s table: a row per instance seen in any figure, missing figures as `-`,
sizes and rates in binary units."""

from __future__ import annotations

import pytest

from dockyard.cli.commands.top import COLUMNS, newest, rows

MIB = 1024 * 1024


def test_a_row_per_instance_seen_in_any_figure_with_gaps_as_none() -> None:
    figures: dict[str, dict[str, float]] = {
        "cpu": {"web-2": 12.5, "web-1": 50.0},
        "memory": {"web-1": 100 * MIB},
        "restarts": {"web-3": 2.0},
        "requests": {"test": 12.0},  # per environment: no row
    }
    found = rows(figures)
    assert [r["instance"] for r in found] == ["web-1", "web-2", "web-3"]
    assert found[0] == {"instance": "web-1", "cpu": 50.0, "cpu_of_limit": None,
                        "memory": 100 * MIB,
                        "memory_limit": None, "network_rx": None, "network_tx": None,
                        "restarts": None}  # fmt: skip
    assert found[2]["restarts"] == 2.0 and found[2]["cpu"] is None


@pytest.mark.parametrize(
    ("row", "cells"),
    [
        ({"instance": "a", "cpu": 49.96, "cpu_of_limit": 99.92, "memory": 100 * MIB,
          "memory_limit": 1024 * MIB, "network_rx": 2000.0, "network_tx": 500.0,
          "restarts": 3.0},
         ["a", "50.0%", "99.9%", "100.0 MiB / 1.0 GiB", "2.0 KiB/s", "500 B/s", "3"]),
        ({"instance": "b", "cpu": None, "cpu_of_limit": None, "memory": 512.0, "memory_limit": None,
          "network_rx": None, "network_tx": 0.0, "restarts": None},
         ["b", "-", "-", "512 B / -", "-", "0 B/s", "-"]),
    ],
)  # fmt: skip
def test_cells_are_formatted_in_their_units(row: dict[str, object], cells: list[str]) -> None:
    assert [str(column.value(row)) for column in COLUMNS] == cells


@pytest.mark.parametrize(
    ("values", "now"),
    [
        ([1.0, 2.0, 3.0, 4.0, 5.0], 5.0),
        ([1.0, 2.0, 3.0, 4.0, None], 4.0),  # the newest scrape not in yet
        ([7.0, None, None, None, None], None),  # an instance removed: old points only
        ([], None),
    ],
)
def test_only_a_recent_point_is_a_figure_now(values: list[float | None], now: float | None) -> None:
    assert newest(values) == now
