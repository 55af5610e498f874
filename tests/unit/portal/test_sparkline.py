"""The scaling history's sparkline: points across the box, the target line in place."""

from __future__ import annotations

import pytest

from dockyard.portal.sparkline import sparkline


def test_figures_span_the_width_and_the_target_sits_at_half_height_by_default() -> None:
    chart = sparkline([100.0, 200.0, 50.0])
    assert chart is not None
    assert chart.points == "0.0,20.0 100.0,0.0 200.0,30.0"
    assert chart.target_y == 20.0


def test_a_figure_above_twice_the_target_raises_the_top() -> None:
    chart = sparkline([400.0, 100.0])
    assert chart is not None
    assert (chart.top_percent, chart.target_y, chart.points) == (400.0, 30.0, "0.0,0.0 200.0,30.0")


@pytest.mark.parametrize("figures", [[], [120.0]])
def test_fewer_than_two_figures_draw_nothing(figures: list[float]) -> None:
    assert sparkline(figures) is None
