"""The log stream's messages, either version: what the agent publishes (logs/shipper.py) and
what every consumer decodes (logs/jetstream.py, logs/memory_stream.py).

Version 1 (logs/record.Batch) is one JSON object of decoded lines; version 2
(logs/raw.RawBatch) a one-line JSON header and Docker's json-file lines as they are. Each carries
its version in the field `v`, and consumers take both, so agents and consumers of either
version may run side by side during an upgrade.
"""

from __future__ import annotations

import orjson

from dockyard.domain.errors import Invalid
from dockyard.logs import raw, record
from dockyard.logs.raw import RawBatch
from dockyard.logs.record import Batch

Message = Batch | RawBatch
"""What the agent publishes."""


def decode(data: bytes) -> Batch:
    """The lines of a stream message of either version; Invalid if it is neither (a consumer
    terminates such messages rather than retrying them for ever)."""
    # A version 1 message is one line (JSON escapes newlines); version 2 has its header first.
    head, newline, rest = data.partition(b"\n")
    try:
        header = orjson.loads(head)
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"not a log batch: {exc}") from exc
    version = header.get("v") if type(header) is dict else None
    if version == record.FORMAT and not newline:
        return Batch.of_body(header)
    if version == raw.FORMAT and newline:
        return RawBatch.decode(header, rest).batch()
    raise Invalid(f"log batch format {version!r} is not one of {record.FORMAT}, {raw.FORMAT}")
