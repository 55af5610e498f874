"""The API's answer for a service's log figures (`GET /logs/stats`): what the agents read and
sent, what the indexer and the archiver wrote, their lag, and the losses, per instance."""

from __future__ import annotations

from pydantic import Field

from dockyard.api.schemas import _Out
from dockyard.logs.archive import rfc3339
from dockyard.logs.stats import InstanceStats, Loss, ServiceStats


class LogLossPublic(_Out):
    time: str = Field(description="When the agent found the lines lost (RFC 3339, UTC).")
    what: str = Field(description="What was lost, e.g. a rotated file that was deleted unread.")
    bytes: int | None = Field(description="Bytes lost, when known.")

    @classmethod
    def of(cls, loss: Loss) -> LogLossPublic:
        return cls(time=rfc3339(loss.time_ns), what=loss.what, bytes=loss.bytes)


class LogCountsPublic(_Out):
    instance: str = Field(description="The instance; empty in the service's total.")
    read: int = Field(description="Lines the agents read.")
    sent: int = Field(description="Lines the agents put on the log stream.")
    dropped: int = Field(description="Lines left out by the service's rate budget.")
    lost: int = Field(description="Times lines were lost before they were read.")
    lost_bytes: int
    indexed: int = Field(description="Lines written into the search index.")
    archived: int = Field(description="Lines written into the archive.")
    losses: list[LogLossPublic] = Field(description="The latest losses, newest first.")

    @classmethod
    def of(cls, counts: InstanceStats) -> LogCountsPublic:
        return cls(
            instance=counts.instance, read=counts.read, sent=counts.sent,
            dropped=counts.dropped, lost=counts.lost, lost_bytes=counts.lost_bytes,
            indexed=counts.indexed, archived=counts.archived,
            losses=[LogLossPublic.of(loss) for loss in counts.losses],
        )  # fmt: skip


class LogStatsPublic(_Out):
    team: str
    service: str
    env: str
    total: LogCountsPublic
    instances: list[LogCountsPublic]
    indexer_lag_s: float | None = Field(
        description="Seconds from the service's newest indexed line to the indexer's report; "
        "null if it indexed none since it started."
    )
    archiver_lag_s: float | None = Field(
        description="The same for the archiver (which writes an hour's lines as it ends)."
    )
    stream_waiting: int = Field(
        description="Sources on the service's hosts waiting now for the log stream."
    )
    reported: str | None = Field(description="Time of the newest report used; null if none.")

    @classmethod
    def of(cls, stats: ServiceStats) -> LogStatsPublic:
        return cls(
            team=stats.team, service=stats.service, env=stats.env,
            total=LogCountsPublic.of(stats.total),
            instances=[LogCountsPublic.of(i) for i in stats.instances],
            indexer_lag_s=stats.indexer_lag_s, archiver_lag_s=stats.archiver_lag_s,
            stream_waiting=stats.stream_waiting,
            reported=rfc3339(stats.reported_ns) if stats.reported_ns else None,
        )  # fmt: skip
