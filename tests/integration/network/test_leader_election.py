"""Leader election against a real etcd with etcd's shortest lease: one of two candidates leads;
a revoked lease or a leader cut off from etcd (a TCP proxy we close) hands the lead over within
the TTL; through an etcd restart no two candidates ever lead at the same moment."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from dockyard.network.etcd import Etcd
from dockyard.network.leader import Candidate, Election, Holder
from tests.support.etcd import EtcdServer

TTL_S = 2  # etcd's smallest lease TTL with its default heartbeat and election timeout


class Proxy:
    """A loopback TCP proxy to etcd that `cut()` closes: a host cut off from etcd."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._port)
        self._writers += [writer, up_writer]
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


@dataclass
class Race:
    """Candidates campaigning for one key, and every change of who leads, timed."""

    key: str
    clients: list[Etcd] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    changes: list[tuple[float, str, bool]] = field(default_factory=list)

    def start(self, name: str, endpoint: str) -> Election:
        client = Etcd([endpoint], timeout_s=TTL_S / 6)
        self.clients.append(client)
        me = Candidate(host=name, pid=1, started="2024-01-01T00:00:00+00:00")
        election = Election(client, key=self.key, ttl_s=TTL_S, me=me)

        def changed(leading: bool) -> None:
            self.changes.append((time.monotonic(), name, leading))

        self.tasks.append(asyncio.create_task(election.run(on_change=changed)))
        return election

    def most_leading_at_once(self) -> int:
        leading: set[str] = set()
        most = 0
        for _, name, now_leading in sorted(self.changes):
            (leading.add if now_leading else leading.discard)(name)
            most = max(most, len(leading))
        return most


@pytest.fixture
async def race(etcd_server: EtcdServer) -> AsyncIterator[Race]:
    found = Race(key=f"/t-{secrets.token_hex(4)}/leader")
    yield found
    await _stop(found)


async def _stop(race: Race) -> None:
    for task in race.tasks:
        task.cancel()
    await asyncio.gather(*race.tasks, return_exceptions=True)
    for client in race.clients:
        await client.close()


async def wait_for(check: Callable[[], bool], *, timeout_s: float) -> float:
    """Seconds it took `check` to hold; AssertionError after `timeout_s`."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout_s, "timed out"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_one_of_two_candidates_leads_and_the_other_names_it(
    race: Race, etcd_server: EtcdServer
) -> None:
    a = race.start("host-a", etcd_server.endpoint)
    b = race.start("host-b", etcd_server.endpoint)
    await wait_for(lambda: a.leading or b.leading, timeout_s=2)
    await asyncio.sleep(TTL_S * 2)  # several refreshes later, still the same one
    winner, other = (a, b) if a.leading else (b, a)
    assert winner.leading and not other.leading
    assert other.leader == winner.leader and other.leader is not None
    assert race.most_leading_at_once() == 1


async def test_a_revoked_lease_hands_the_lead_over_within_the_ttl(
    race: Race, etcd_server: EtcdServer
) -> None:
    a = race.start("host-a", etcd_server.endpoint)
    await wait_for(lambda: a.leading, timeout_s=2)
    b = race.start("host-b", etcd_server.endpoint)
    await asyncio.sleep(0.3)
    outside = Etcd([etcd_server.endpoint])
    entry = await outside.get(race.key)
    assert entry is not None
    holder = Holder.decode(entry.value)
    assert holder is not None and holder.host == "host-a"
    await outside.revoke(holder.lease)
    await outside.close()
    assert await wait_for(lambda: b.leading, timeout_s=TTL_S) < TTL_S
    await wait_for(lambda: not a.leading, timeout_s=TTL_S / 2)
    await wait_for(lambda: "host-b" in (a.leader or ""), timeout_s=TTL_S / 2)


async def test_a_leader_cut_off_from_etcd_steps_down_before_the_other_takes_over(
    race: Race, etcd_server: EtcdServer
) -> None:
    proxy = Proxy(etcd_server.client_port)
    a = race.start("host-a", await proxy.start())
    await wait_for(lambda: a.leading, timeout_s=2)
    b = race.start("host-b", etcd_server.endpoint)
    await asyncio.sleep(0.3)
    cut_at = time.monotonic()
    proxy.cut()
    stepped_down = await wait_for(lambda: not a.leading, timeout_s=TTL_S)
    took_over = stepped_down + await wait_for(lambda: b.leading, timeout_s=TTL_S * 2)
    assert stepped_down <= TTL_S * 2 / 3 + 0.1  # its own deadline, before etcd's TTL ends
    assert took_over <= TTL_S + TTL_S / 5 + 0.5  # the lease's expiry, then one look
    assert race.most_leading_at_once() == 1
    assert time.monotonic() - cut_at >= stepped_down


async def test_through_an_etcd_restart_at_most_one_candidate_leads(
    own_etcd: EtcdServer,
) -> None:
    race = Race(key="/restart/leader")
    try:
        race.start("host-a", own_etcd.endpoint)
        race.start("host-b", own_etcd.endpoint)
        await wait_for(lambda: len(race.changes) >= 1, timeout_s=2)
        # Down longer than the step-down deadline: the leader must stop while etcd is away.
        await asyncio.to_thread(own_etcd.restart, down_s=TTL_S)
        await wait_for(lambda: any(not leading for _, _, leading in race.changes), timeout_s=1)
        await wait_for(lambda: race.changes[-1][2], timeout_s=TTL_S * 3)
        await asyncio.sleep(TTL_S)
        assert race.most_leading_at_once() == 1
    finally:
        await _stop(race)
