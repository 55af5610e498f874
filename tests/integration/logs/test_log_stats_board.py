"""The log stats board, the fake and the JetStream key-value bucket alike: each process's latest
report of each service replaces its previous one, and a service's reports come back from every
process that reported it, nobody else's."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest

from dockyard.domain.errors import Unavailable
from dockyard.logs.stats import AGENT, INDEXER, Report, Row
from dockyard.logs.stats_board import JetStreamStatsBoard, MemoryStatsBoard, StatsBoard
from tests.support.nats import NatsServer, free_port

S = 1_000_000_000


@pytest.fixture(params=["memory", "jetstream"])
async def board(request: pytest.FixtureRequest) -> AsyncIterator[StatsBoard]:
    if request.param == "memory":
        made: StatsBoard = MemoryStatsBoard()
    else:
        server: NatsServer = request.getfixturevalue("nats_server")
        made = JetStreamStatsBoard([server.url])
    yield made
    await made.close()


def row(team: str, service: str, instance: str, **counts: int) -> Row:
    return Row(team, service, "test", instance, **counts)


async def test_each_process_s_latest_report_of_a_service_comes_back(board: StatsBoard) -> None:
    team = f"t{uuid.uuid4().hex[:8]}"  # the JetStream bucket is shared by the session's tests
    await board.put(Report(AGENT, "h1", 1 * S, (row(team, "web", "w1", read=1),)))
    await board.put(
        Report(
            AGENT,
            "h1.example",
            2 * S,
            (row(team, "web", "w2", read=7), row(team, "api", "a1", read=3)),
        )
    )
    await board.put(Report(AGENT, "h1", 3 * S, (row(team, "web", "w1", read=5),)))  # replaces
    await board.put(Report(INDEXER, "h9", 3 * S, (row(team, "web", "w1", indexed=5),)))

    found = await board.reports(team, "web", "test")

    got = sorted((r.role, r.host, [(x.instance, x.read, x.indexed) for x in r.rows]) for r in found)
    assert got == [
        (AGENT, "h1", [("w1", 5, 0)]),
        (AGENT, "h1.example", [("w2", 7, 0)]),
        (INDEXER, "h9", [("w1", 0, 5)]),
    ]
    assert [r.rows[0].instance for r in await board.reports(team, "api", "test")] == ["a1"]
    assert await board.reports(team, "web", "online") == []
    assert await board.reports(team + "x", "web", "test") == []


async def test_a_board_without_its_server_is_unavailable_and_says_so_at_once_again() -> None:
    board = JetStreamStatsBoard([f"nats://127.0.0.1:{free_port()}"])
    try:
        with pytest.raises(Unavailable, match="nats-server"):
            await board.put(Report(AGENT, "h1", S, (row("t", "web", "w1", read=1),)))
        started = time.monotonic()
        with pytest.raises(Unavailable, match="nats-server"):
            await board.reports("t", "web", "test")
        assert time.monotonic() - started < 0.1  # no new attempt for a few seconds
    finally:
        await board.close()


async def test_a_board_reconnects_once_its_server_is_back(own_nats: NatsServer) -> None:
    clock = [0.0]
    board = JetStreamStatsBoard([own_nats.url], monotonic=lambda: clock[0])
    try:
        await board.put(Report(AGENT, "h1", S, (row("t", "web", "w1", read=1),)))
        own_nats.stop()
        with pytest.raises(Unavailable):
            await board.reports("t", "web", "test")
        own_nats.start()
        clock[0] += 60  # past the wait after a failed connection
        await board.put(Report(AGENT, "h1", 2 * S, (row("t", "web", "w1", read=2),)))
        assert [r.rows[0].read for r in await board.reports("t", "web", "test")] == [2]
    finally:
        await board.close()
