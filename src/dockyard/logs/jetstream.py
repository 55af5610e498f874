"""The log stream on NATS JetStream: the real LogStream (logs/stream.py) between the agents and
the consumers (indexer, archiver, drains, live tails).

One file-stored stream (`DOCKYARD_LOGS`) holds every subject under `dockyard.logs.>`, dropping
its oldest batches beyond `max_bytes`, and drops a batch whose `Nats-Msg-Id` it stored within
the duplicate window. Durable consumers are pull consumers with explicit acks; a live tail is an
ordered push consumer that delivers only what arrives after it starts. The stream and each
consumer are made (or brought to this configuration) on first use, so a nats-server that lost
its store is set up again without anyone's help.

This is the only module that speaks nats-py: every error of it is translated here, once, into
Unavailable (try again later) or Invalid (a request that can never succeed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import UTC, datetime

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from dockyard.domain.errors import Invalid, Unavailable
from dockyard.logs import wire
from dockyard.logs.record import SUBJECT_ROOT, Batch
from dockyard.logs.wire import Message

log = logging.getLogger(__name__)

STREAM = "DOCKYARD_LOGS"
SUBJECTS = f"{SUBJECT_ROOT}.>"
MSG_ID = "Nats-Msg-Id"
DUPLICATE_WINDOW_S = 600.0
"""A batch re-sent within 10 minutes is dropped; the line numbers catch anything older."""
ACK_WAIT_S = 30.0
MAX_ACK_PENDING = 1000
"""Batches a durable consumer may hold unacknowledged before the stream stops handing it more."""
REQUEST_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 2
RECONNECT_WAIT_S = 0.5
HEARTBEAT_S = 5.0
"""A live tail whose consumer sends nothing for two of these is set up again by the client."""
FOLLOW_POLL_S = 0.25
STREAM_NAME_IN_USE = 10058  # JetStream's err_code: the stream exists with another configuration
NATS_ERRORS = (nats.errors.Error, OSError, TimeoutError)
# Durable names become subject tokens: no dots, wildcards or spaces.
CONSUMER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class JetStreamLogStream:
    """A LogStream on the JetStream servers at `urls`.

    Nothing is contacted until the first call: each verb connects (or finds the client still
    reconnecting) and raises Unavailable while no server answers, so one object serves for the
    life of its owner and outlives nats-server restarts. `ack_wait_s` is how long a delivered
    batch may stay unacknowledged before it is delivered again (short in tests).
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        max_bytes: int,
        name: str = STREAM,
        ack_wait_s: float = ACK_WAIT_S,
        duplicate_window_s: float = DUPLICATE_WINDOW_S,
        max_ack_pending: int = MAX_ACK_PENDING,
        timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self.urls = tuple(urls)
        self.name = name
        self._max_bytes = max_bytes
        self._ack_wait_s = ack_wait_s
        self._duplicate_window_s = duplicate_window_s
        self._max_ack_pending = max_ack_pending
        self._timeout_s = timeout_s
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._stream_ready = False
        self._pulls: dict[str, JetStreamContext.PullSubscription] = {}
        self._connecting = asyncio.Lock()
        self._closed = False
        self.disconnects = 0
        """How many times the connection dropped: a live tail ends when it changes."""

    async def publish(self, batch: Message) -> None:
        js = await self._ready()
        try:
            ack = await js.publish(
                batch.source.subject,
                batch.encode(),
                timeout=self._timeout_s,
                stream=self.name,
                headers={MSG_ID: batch.msg_id},
            )
        except nats.errors.MaxPayloadError as exc:
            raise Invalid(
                f"a log batch of {len(batch.encode())} bytes is over the stream's message limit: "
                "send fewer lines per batch",
                field="lines",
            ) from exc
        except nats.js.errors.NoStreamResponseError as exc:
            self._stream_ready = False  # the server lost its store: make the stream again
            raise self._unavailable("store a batch", exc) from exc
        except NATS_ERRORS as exc:
            raise self._unavailable("store a batch", exc) from exc
        if ack.duplicate:
            log.debug("duplicate batch dropped msg_id=%s", batch.msg_id)

    async def fetch(
        self,
        consumer: str,
        *,
        max_batches: int,
        timeout_s: float,
        subject: str | None = None,
        start_ns: int | None = None,
    ) -> list[JetStreamDelivery]:
        _check_consumer(consumer)
        pull = await self._pull(consumer, subject=subject or SUBJECTS, start_ns=start_ns)
        try:
            messages = await pull.fetch(max_batches, timeout=timeout_s)
        except TimeoutError:  # nothing arrived in time, or the server went away
            if not self._connected():
                raise self._unavailable("deliver batches", None) from None
            return []
        except NATS_ERRORS as exc:
            # The consumer may be gone with the server's store: bind it afresh next time.
            self._pulls.pop(consumer, None)
            self._stream_ready = False
            raise self._unavailable("deliver batches", exc) from exc
        return [JetStreamDelivery(msg, self) for msg in messages]

    async def backlog(self, consumer: str) -> int:
        _check_consumer(consumer)
        js = await self._ready()
        try:
            info = await js.consumer_info(self.name, consumer)
        except nats.js.errors.NotFoundError:
            return 0
        except NATS_ERRORS as exc:
            raise self._unavailable(f"tell the backlog of {consumer}", exc) from exc
        return (info.num_pending or 0) + (info.num_ack_pending or 0)

    async def consumers(self) -> list[str]:
        js = await self._ready()
        try:
            infos = await js.consumers_info(self.name)
        except NATS_ERRORS as exc:
            raise self._unavailable("list its consumers", exc) from exc
        return sorted(info.name for info in infos)

    async def remove(self, consumer: str) -> None:
        _check_consumer(consumer)
        js = await self._ready()
        pull = self._pulls.pop(consumer, None)
        if pull is not None:
            await _quietly(pull.unsubscribe())
        try:
            await js.delete_consumer(self.name, consumer)
        except nats.js.errors.NotFoundError:
            return
        except NATS_ERRORS as exc:
            raise self._unavailable(f"remove the consumer {consumer}", exc) from exc

    async def follow(self, subject: str, *, since_ns: int | None = None) -> AsyncIterator[Batch]:
        js = await self._ready()
        disconnects = self.disconnects
        start = None if since_ns is None else datetime.fromtimestamp(since_ns / 1e9, UTC)
        try:
            # Nothing stored before the tail began is new to it, even if the client sets the
            # ordered consumer up again (missed heartbeats) from the stream's first message.
            floor = 0 if start else (await js.stream_info(self.name)).state.last_seq + 1
            sub = await js.subscribe(
                subject,
                stream=self.name,
                ordered_consumer=True,
                config=None if start is None else ConsumerConfig(opt_start_time=start),
                deliver_policy=DeliverPolicy.NEW if start is None else DeliverPolicy.BY_START_TIME,
                idle_heartbeat=HEARTBEAT_S,
            )
        except NATS_ERRORS as exc:
            raise self._unavailable("follow the stream", exc) from exc
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=FOLLOW_POLL_S)
                except TimeoutError:
                    msg = None
                except NATS_ERRORS as exc:  # the client was closed under the tail
                    raise self._unavailable("follow the stream", exc) from exc
                # Checked before every batch: after a reconnect the client would start the
                # ordered consumer again from where it was, which a tail must not replay.
                if self.disconnects != disconnects or not self._connected():
                    raise self._unavailable("follow the stream", None)
                if msg is None or msg.metadata.sequence.stream < floor:
                    continue
                try:
                    yield wire.decode(msg.data)
                except Invalid:
                    log.warning("undecodable message skipped by a live tail subject=%s", subject)
        finally:
            await _quietly(sub.unsubscribe())

    async def close(self) -> None:
        self._closed = True
        client, self._client, self._js = self._client, None, None
        self._pulls.clear()
        if client is not None:
            await _quietly(client.close())

    async def _ready(self) -> JetStreamContext:
        """The JetStream context with the stream in place, or Unavailable."""
        if self._closed:
            raise Unavailable("this log stream was closed: open a new one")
        if self._client is None:
            async with self._connecting:
                if self._client is None:
                    await self._connect()
        if not self._connected() or self._js is None:
            raise self._unavailable("be reached", None)
        if not self._stream_ready:
            await self._ensure_stream(self._js)
        return self._js

    async def _connect(self) -> None:
        try:
            client = await nats.connect(
                servers=list(self.urls),
                connect_timeout=CONNECT_TIMEOUT_S,
                reconnect_time_wait=RECONNECT_WAIT_S,
                # Tried once more each at first (so a call fails fast while no server answers),
                # and for ever once connected (see below).
                max_reconnect_attempts=1,
                allow_reconnect=True,
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnect,
                reconnected_cb=self._on_reconnect,
                name="dockyard",
            )
        except NATS_ERRORS as exc:
            raise self._unavailable("be reached", exc) from exc
        # nats-py reads this option at each reconnect: from now on the client never gives up,
        # and the verbs say Unavailable while it is reconnecting.
        client.options["max_reconnect_attempts"] = -1
        self._client, self._js = client, client.jetstream(timeout=self._timeout_s)

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        """Make the stream, or bring an existing one to this configuration (idempotent)."""
        config = StreamConfig(
            name=self.name,
            subjects=[SUBJECTS],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_bytes=self._max_bytes,
            duplicate_window=self._duplicate_window_s,
        )
        try:
            try:
                await js.add_stream(config)
            except nats.js.errors.BadRequestError as exc:
                if exc.err_code != STREAM_NAME_IN_USE:
                    raise
                await js.update_stream(config)
        except nats.js.errors.BadRequestError as exc:
            raise Invalid(f"JetStream refused the stream {self.name}: {exc.description}") from exc
        except NATS_ERRORS as exc:
            raise self._unavailable("set up the stream", exc) from exc
        self._stream_ready = True

    async def _pull(
        self, consumer: str, *, subject: str, start_ns: int | None
    ) -> JetStreamContext.PullSubscription:
        """The pull subscription of durable `consumer`, made or updated on first use."""
        js = await self._ready()
        if consumer in self._pulls:
            return self._pulls[consumer]
        start = None if start_ns is None else datetime.fromtimestamp(start_ns / 1e9, UTC)
        config = ConsumerConfig(
            durable_name=consumer,
            deliver_policy=DeliverPolicy.ALL if start is None else DeliverPolicy.BY_START_TIME,
            opt_start_time=start,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait_s,
            max_ack_pending=self._max_ack_pending,
            filter_subject=subject,
        )
        try:
            await js.add_consumer(self.name, config)
            pull = await js.pull_subscribe_bind(durable=consumer, stream=self.name)
        except NATS_ERRORS as exc:
            raise self._unavailable(f"set up the consumer {consumer}", exc) from exc
        self._pulls[consumer] = pull
        return pull

    def _connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    def _unavailable(self, action: str, exc: BaseException | None) -> Unavailable:
        why = f" ({type(exc).__name__}: {exc})" if exc is not None and str(exc) else ""
        return Unavailable(
            f"the log stream at {', '.join(self.urls)} cannot {action} now{why}: check that "
            "nats-server runs (`dockyard status`; `dockyard up` starts it); try again"
        )

    async def _on_error(self, exc: Exception) -> None:
        log.debug("nats client error=%r", exc)  # the verbs say what failed, as Unavailable

    async def _on_disconnect(self) -> None:
        self.disconnects += 1
        if not self._closed:  # closing disconnects too: that is no news
            log.warning("log stream disconnected urls=%s", ",".join(self.urls))

    async def _on_reconnect(self) -> None:
        self._stream_ready = False  # the server may have come back without its store
        log.info("log stream reconnected urls=%s", ",".join(self.urls))


class JetStreamDelivery:
    """One message of a durable consumer (a Delivery of logs/stream.py).

    `batch` decodes on first use and raises Invalid for a message that is no batch: the caller
    counts it and calls `term()`.
    """

    def __init__(self, msg: Msg, stream: JetStreamLogStream) -> None:
        self._msg = msg
        self._stream = stream
        self._batch: Batch | None = None

    @property
    def batch(self) -> Batch:
        if self._batch is None:
            self._batch = wire.decode(self._msg.data)
        return self._batch

    async def ack(self) -> None:
        """Waits for the server's confirmation, so a returned ack is one it holds. (A server
        killed outright may lose the acknowledgements of its last moments, as it writes them
        to disk shortly after: those batches come again, and the line numbers skip them.)"""
        try:
            await self._msg.ack_sync(timeout=self._stream._timeout_s)
        except nats.errors.MsgAlreadyAckdError:
            return
        except NATS_ERRORS as exc:
            raise self._stream._unavailable("take an acknowledgement", exc) from exc

    async def nak(self, *, delay_s: float = 0.0) -> None:
        await self._reply("take a negative acknowledgement", self._msg.nak(delay=delay_s or None))

    async def term(self) -> None:
        await self._reply("terminate a message", self._msg.term())

    async def _reply(self, action: str, sent: Awaitable[None]) -> None:
        try:
            await sent
        except nats.errors.MsgAlreadyAckdError:
            return
        except NATS_ERRORS as exc:
            raise self._stream._unavailable(action, exc) from exc


def _check_consumer(consumer: str) -> None:
    if not CONSUMER_NAME.match(consumer):
        raise Invalid(
            f"consumer name {consumer!r}: use 1-64 letters, digits, '-' or '_'", field="consumer"
        )


async def _quietly(closing: Awaitable[object]) -> None:
    """Await a clean-up whose failure changes nothing (the connection is gone anyway)."""
    with contextlib.suppress(*NATS_ERRORS):
        await closing


async def jetstream_ready(url: str, *, timeout_s: float = 2.0) -> None:
    """Return if the server at `url` answers with JetStream on (what `dockyard up` waits for
    and `dockyard status` shows); raise Unavailable saying why not."""
    try:
        client = await nats.connect(
            servers=[url],
            connect_timeout=max(1, round(timeout_s)),
            # nats-py tries a server that refuses until it exceeds this (0: for ever).
            max_reconnect_attempts=1,
            reconnect_time_wait=0.1,
            allow_reconnect=False,
            error_cb=_ignore,
            name="dockyard-probe",
        )
    except NATS_ERRORS as exc:
        raise Unavailable(f"no NATS server answers at {url} ({type(exc).__name__})") from exc
    try:
        await client.jetstream(timeout=timeout_s).account_info()
    except NATS_ERRORS as exc:
        raise Unavailable(f"the NATS server at {url} has no JetStream ready: {exc}") from exc
    finally:
        await _quietly(client.close())


async def _ignore(exc: Exception) -> None:
    """nats-py's own error log, silenced: the caller reports the failure it raised."""
