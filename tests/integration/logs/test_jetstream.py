"""What JetStream adds to the LogStream contract (tests/conformance/test_log_stream.py), against
a real nats-server of each test's own: the stream's configuration, deduplication and durable
places that outlive a `kill -9` of the server, messages that are no batch, a tail that ends when
the server goes away, and a stream that was never reachable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import partial

import nats
import pytest

from dockyard.domain.errors import Invalid, Unavailable
from dockyard.logs.jetstream import DUPLICATE_WINDOW_S, STREAM, JetStreamLogStream
from dockyard.logs.record import Batch, Line
from tests.conformance.test_log_stream import WEB, batch, fetch_all, retrying, seqs
from tests.support.nats import NatsServer, free_port

pytestmark = pytest.mark.timeout(60)
MAX_BYTES = 8 << 20


@pytest.fixture
async def stream(own_nats: NatsServer) -> AsyncIterator[JetStreamLogStream]:
    opened = JetStreamLogStream([own_nats.url], max_bytes=MAX_BYTES, ack_wait_s=1.0)
    yield opened
    await opened.close()


async def _stream_config(url: str) -> tuple[str, float, int]:
    client = await nats.connect(url)
    try:
        info = await client.jetstream().stream_info(STREAM)
    finally:
        await client.close()
    config = info.config
    return str(config.storage), float(config.duplicate_window), int(config.max_bytes or 0)


async def test_the_stream_is_file_stored_bounded_and_deduplicating(
    own_nats: NatsServer, stream: JetStreamLogStream
) -> None:
    await stream.publish(batch(WEB, 1))
    assert await _stream_config(own_nats.url) == ("file", DUPLICATE_WINDOW_S, MAX_BYTES)


async def test_a_stream_made_with_other_limits_is_brought_to_the_settings(
    own_nats: NatsServer, stream: JetStreamLogStream
) -> None:
    await stream.publish(batch(WEB, 1))
    bigger = JetStreamLogStream([own_nats.url], max_bytes=MAX_BYTES * 2)
    try:
        await bigger.publish(batch(WEB, 2))
    finally:
        await bigger.close()
    assert (await _stream_config(own_nats.url))[2] == MAX_BYTES * 2
    assert seqs(await fetch_all(stream, "indexer")) == [1, 2]  # nothing lost by the update


async def test_dedup_and_a_consumers_place_outlive_a_kill_9_of_the_server_at_least_once(
    own_nats: NatsServer, stream: JetStreamLogStream
) -> None:
    for first in (1, 2, 3):
        await stream.publish(batch(WEB, first))
    got = await stream.fetch("indexer", max_batches=2, timeout_s=2)
    for delivery in got:
        await delivery.ack()
    await asyncio.to_thread(own_nats.restart, kill=True)
    await retrying(partial(stream.publish, batch(WEB, 3)))  # the agent re-sends after a crash
    await stream.publish(batch(WEB, 4))
    after = seqs(await retrying(partial(fetch_all, stream, "indexer")))
    # The server writes a consumer's acknowledgements to disk a moment later: a crash may
    # deliver held batches again (the line numbers skip them), never lose one.
    assert [number for number in after if number > 2] == [3, 4]
    assert set(after) <= {1, 2, 3, 4}


async def test_a_message_that_is_no_batch_raises_invalid_and_term_drops_it(
    own_nats: NatsServer, stream: JetStreamLogStream
) -> None:
    await stream.publish(batch(WEB, 1))
    client = await nats.connect(own_nats.url)
    try:
        await client.jetstream().publish(WEB.subject, b"not json", stream=STREAM)
    finally:
        await client.close()
    await stream.publish(batch(WEB, 2))
    got = await fetch_all(stream, "indexer")
    assert len(got) == 3
    with pytest.raises(Invalid, match="not a log batch"):
        _ = got[1].batch
    await got[1].term()
    for delivery in (got[0], got[2]):
        await delivery.ack()
    await asyncio.sleep(1.3)  # past the ack wait: a terminated message stays gone
    assert await stream.fetch("indexer", max_batches=10, timeout_s=0.3) == []


async def test_a_live_tail_ends_with_unavailable_when_the_server_goes_away(
    own_nats: NatsServer, stream: JetStreamLogStream
) -> None:
    tail = stream.follow("dockyard.logs.>")
    first = asyncio.create_task(anext(tail))
    seq = 1
    while not first.done():
        await stream.publish(batch(WEB, seq))
        seq += 1
        assert seq < 200, "the tail never showed a batch"
        await asyncio.sleep(0.05)
    assert isinstance(first.result(), Batch)
    await asyncio.to_thread(own_nats.stop)
    with pytest.raises(Unavailable):
        await asyncio.wait_for(anext(tail), 5)


async def test_a_live_tail_ends_with_unavailable_when_its_stream_is_closed(
    stream: JetStreamLogStream,
) -> None:
    tail = stream.follow("dockyard.logs.>")
    waiting = asyncio.create_task(anext(tail))
    await asyncio.sleep(0.3)  # subscribed, waiting for a batch
    await stream.close()
    with pytest.raises(Unavailable):
        await asyncio.wait_for(waiting, 5)


async def test_a_stream_never_reached_is_unavailable_at_once() -> None:
    nowhere = JetStreamLogStream([f"nats://127.0.0.1:{free_port()}"], max_bytes=MAX_BYTES)
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(Unavailable, match="dockyard up"):
            await nowhere.publish(batch(WEB, 1))
        with pytest.raises(Unavailable):
            await nowhere.fetch("indexer", max_batches=1, timeout_s=0.1)
        assert asyncio.get_running_loop().time() - started < 10
    finally:
        await nowhere.close()


async def test_a_batch_over_the_message_limit_is_invalid(stream: JetStreamLogStream) -> None:
    huge = Batch(WEB, tuple(Line(i, 0, "stdout", "x" * 16_000) for i in range(1, 100)))
    with pytest.raises(Invalid, match="fewer lines"):
        await stream.publish(huge)


async def test_a_consumer_name_that_is_no_subject_token_is_invalid(
    stream: JetStreamLogStream,
) -> None:
    with pytest.raises(Invalid, match="consumer name"):
        await stream.fetch("index.er", max_batches=1, timeout_s=0.1)
