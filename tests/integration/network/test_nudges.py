"""Nudges through a real etcd: what a standby sends from any thread, the leader's receiver
gets, in order; a receiver waits out an etcd restart and gets what is sent afterwards; junk
written to the key is ignored."""

from __future__ import annotations

import asyncio
import secrets
import threading

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.status import EnvKey
from dockyard.network.etcd import Etcd
from dockyard.network.nudges import Nudges, decode, encode
from tests.support.etcd import EtcdServer

WAIT_S = 5.0  # bounded waits only; a nudge arrives in milliseconds


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (b"12/test", EnvKey(12, Environment.TEST)),
        (b"7/stable", EnvKey(7, Environment.STABLE)),
        (b"7/prod", None),
        (b"x/test", None),
        (b"", None),
        (b"\xff\xfe", None),
    ],
)
def test_decode(raw: bytes, key: EnvKey | None) -> None:
    assert decode(raw) == key
    if key is not None:
        assert decode(encode(key)) == key


class Received:
    def __init__(self) -> None:
        self.keys: list[EnvKey] = []
        self.arrived = asyncio.Event()

    def __call__(self, key: EnvKey) -> None:
        self.keys.append(key)
        self.arrived.set()

    async def until(self, count: int) -> list[EnvKey]:
        try:
            async with asyncio.timeout(WAIT_S):
                while len(self.keys) < count:
                    self.arrived.clear()
                    await self.arrived.wait()
        except TimeoutError:
            raise AssertionError(f"{count} nudges awaited, these came: {self.keys}") from None
        return self.keys


async def _watching(nudges: Nudges, received: Received) -> asyncio.Task[None]:
    """The receiver, once it watches: nudges sent before are not promised to arrive."""
    task = asyncio.create_task(nudges.receive(received))
    async with asyncio.timeout(WAIT_S):
        while not nudges.watching:  # noqa: ASYNC110 - a plain flag of the code under test
            await asyncio.sleep(0.01)
    return task


async def test_what_a_standby_sends_from_any_thread_the_leader_receives(
    etcd_server: EtcdServer,
) -> None:
    prefix = f"/t-{secrets.token_hex(4)}"
    leader = Nudges(Etcd([etcd_server.endpoint]), prefix=prefix)
    standby = Nudges(Etcd([etcd_server.endpoint]), prefix=prefix)
    standby.attach(asyncio.get_running_loop())
    received = Received()
    task = await _watching(leader, received)
    try:
        sent = [
            EnvKey(3, Environment.TEST),
            EnvKey(3, Environment.ONLINE),
            EnvKey(4, Environment.TEST),
        ]
        for key in sent:  # as the API's worker threads call notify
            threading.Thread(target=standby.send_soon, args=(key,)).start()
            await received.until(sent.index(key) + 1)
        assert received.keys == sent
        # Whatever else lands on the key is not a controller key: ignored.
        await (await Etcd([etcd_server.endpoint]).client()).put(leader.key.encode(), b"junk")
        standby.send_soon(EnvKey(5, Environment.SANDBOX))
        assert (await received.until(4))[-1] == EnvKey(5, Environment.SANDBOX)
        assert len(received.keys) == 4
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await leader.close()
        await standby.close()


async def test_a_receiver_waits_out_an_etcd_restart(own_etcd: EtcdServer) -> None:
    prefix = f"/t-{secrets.token_hex(4)}"
    leader = Nudges(Etcd([own_etcd.endpoint], timeout_s=1.0), prefix=prefix)
    standby = Nudges(Etcd([own_etcd.endpoint], timeout_s=1.0), prefix=prefix)
    standby.attach(asyncio.get_running_loop())
    received = Received()
    task = await _watching(leader, received)
    try:
        await asyncio.to_thread(own_etcd.restart, down_s=1.0)
        key = EnvKey(9, Environment.TEST)
        async with asyncio.timeout(WAIT_S * 3):
            while not received.keys:  # a nudge sent while the watch reconnects may be lost
                standby.send_soon(key)
                await asyncio.sleep(0.5)
        assert received.keys[0] == key and not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await leader.close()
        await standby.close()
