"""HTTP drains: each send is one POST of NDJSON, one object per line, in the archive's record
format (logs/archive.py encode_record: time, team, service, env, instance, stream, level, text,
plus time_ns, host, channel, seq and cut), so a team's tools read drains and archives alike."""

from __future__ import annotations

from collections.abc import Sequence

from dockyard.domain.drain import DrainSpec
from dockyard.logs.archive import encode_record
from dockyard.logs.drains.poster import Poster
from dockyard.logs.level import level_of
from dockyard.logs.record import Batch

CONTENT_TYPE = "application/x-ndjson"


def encode(batches: Sequence[Batch]) -> bytes:
    """The lines of `batches` as NDJSON, in order, each record ending with a newline."""
    return b"".join(
        encode_record(b.source, line, level=level_of(line.text))
        for b in batches
        for line in b.lines
    )


class NdjsonDestination:
    """POSTs NDJSON to the drain's URL with its headers; see Poster for what `send` promises."""

    def __init__(self, spec: DrainSpec) -> None:
        self._poster = Poster(spec, spec.url, content_type=CONTENT_TYPE)

    async def send(self, batches: Sequence[Batch]) -> None:
        await self._poster.post(encode(batches))

    async def close(self) -> None:
        await self._poster.close()
