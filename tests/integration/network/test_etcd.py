"""The etcd shell against a real etcd: conditional writes, and failures turned into Unavailable."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from dockyard.domain.errors import Unavailable
from dockyard.network.etcd import Etcd, OutcomeUnknown, Put
from tests.support.etcd import EtcdServer, free_port


def _prefix() -> str:
    return f"/t-{secrets.token_hex(4)}"


async def test_create_writes_only_an_absent_key_and_reports_the_holder(
    etcd_server: EtcdServer,
) -> None:
    etcd = Etcd([etcd_server.endpoint])
    key = _prefix() + "/a"
    created, entry = await etcd.create(key, b"first", also=[Put(key + "-log", b"x")])
    assert created and entry.value == b"first"
    created, existing = await etcd.create(key, b"second")
    assert not created and existing.value == b"first"
    found = await etcd.get(key)
    assert found == entry
    assert (await etcd.get(key + "-log")) is not None
    await etcd.close()


async def test_replace_and_delete_need_the_revision_read(etcd_server: EtcdServer) -> None:
    etcd = Etcd([etcd_server.endpoint])
    key = _prefix() + "/a"
    await etcd.create(key, b"v1")
    first = await etcd.get(key)
    assert first is not None
    assert await etcd.replace(key, b"v2", mod_revision=first.mod_revision)
    assert not await etcd.replace(key, b"v3", mod_revision=first.mod_revision)  # stale
    assert not await etcd.delete(key, mod_revision=first.mod_revision)
    second = await etcd.get(key)
    assert second is not None and second.value == b"v2"
    assert await etcd.delete(key, mod_revision=second.mod_revision)
    assert await etcd.get(key) is None
    await etcd.close()


async def test_get_prefix_lists_only_that_prefix(etcd_server: EtcdServer) -> None:
    etcd = Etcd([etcd_server.endpoint])
    prefix = _prefix()
    for name in ("b", "a", "c"):
        await etcd.put(f"{prefix}/in/{name}", name.encode())
    await etcd.put(f"{prefix}/out", b"x")
    assert [e.key for e in await etcd.get_prefix(prefix + "/in/")] == [
        f"{prefix}/in/a",
        f"{prefix}/in/b",
        f"{prefix}/in/c",
    ]
    await etcd.close()


async def test_a_stopped_etcd_is_unavailable_and_a_restarted_one_answers_again(
    own_etcd: EtcdServer,
) -> None:
    etcd = Etcd([own_etcd.endpoint], timeout_s=1.0)
    await etcd.put("/k", b"v")
    own_etcd.stop()
    with pytest.raises(Unavailable, match="IPAM unavailable: etcd at"):
        await etcd.get("/k")
    with pytest.raises(OutcomeUnknown):  # a write's fate is never assumed
        await etcd.create("/k2", b"v")
    leader = Etcd([own_etcd.endpoint], timeout_s=1.0, user="Leader election")
    with pytest.raises(Unavailable, match=r"^Leader election unavailable: etcd at"):
        await leader.get("/k")  # the message names what needs etcd
    await leader.close()
    own_etcd.start()
    for _ in range(50):
        try:
            found = await etcd.get("/k")
            break
        except Unavailable:
            await asyncio.sleep(0.1)
    else:
        pytest.fail("etcd did not answer again after its restart")
    assert found is not None and found.value == b"v"
    await etcd.close()


async def test_a_dead_endpoint_moves_the_next_call_to_the_next_one(
    etcd_server: EtcdServer,
) -> None:
    etcd = Etcd([f"http://127.0.0.1:{free_port()}", etcd_server.endpoint], timeout_s=1.0)
    with pytest.raises(Unavailable):
        await etcd.get("/anything")
    assert await etcd.get("/anything") is None
    await etcd.close()
