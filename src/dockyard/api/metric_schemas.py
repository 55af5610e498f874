"""The API's answers for metrics: a PromQL query's result as Prometheus gave it, and named
charts as series on one time axis (what uPlot draws, and what `dockyard top` reads)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from dockyard.api.schemas import _Out
from dockyard.metrics.charts import Drawn, Span, as_json


class MetricsQueryPublic(_Out):
    query: str = Field(
        description="The expression Prometheus ran: for a team token, the one sent with the "
        "team's matcher on every selector."
    )
    data: dict[str, Any] = Field(
        description="Prometheus's `data`: `resultType` and `result`, as its HTTP API gives them."
    )


class SeriesPublic(_Out):
    name: str = Field(description="The instance (or, in host charts, the host).")
    values: list[float | None] = Field(description="One per timestamp; null: no value then.")


class ChartPublic(_Out):
    name: str = Field(description="cpu, memory, network_rx, network_tx, restarts, load, ...")
    title: str
    unit: str = Field(description='"%", "bytes", "bytes/s" or "count".')
    query: str = Field(description="The PromQL Dockyard built for this chart.")
    series: list[SeriesPublic]


class ChartsPublic(_Out):
    range: str = Field(description="15m, 1h, 6h or 24h.")
    step: int = Field(description="Seconds between timestamps.")
    timestamps: list[float] = Field(description="Unix seconds, oldest first.")
    charts: list[ChartPublic]

    @classmethod
    def of(cls, range_name: str, span: Span, drawn: list[Drawn]) -> ChartsPublic:
        return cls.model_validate(as_json(range_name, span, drawn))
