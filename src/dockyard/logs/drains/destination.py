"""The seam between a drain's consumer loop (logs/drain.py) and where its lines go."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from dockyard.domain.drain import DrainKind, DrainSpec
from dockyard.logs.drains.ndjson import NdjsonDestination
from dockyard.logs.drains.otlp import OtlpDestination
from dockyard.logs.drains.syslog import SyslogDestination
from dockyard.logs.record import Batch


class Destination(Protocol):
    async def send(self, batches: Sequence[Batch]) -> None:
        """Return once the destination accepted every line of `batches`, in order. Raises
        Unavailable if it did not (down, refusing, slow): nothing may be taken as delivered,
        and the same lines are offered again later (some may then arrive twice)."""

    async def close(self) -> None:
        """Release the connection; a later `send` opens a new one."""


KINDS: dict[DrainKind, Callable[[DrainSpec], Destination]] = {
    DrainKind.SYSLOG: SyslogDestination,
    DrainKind.HTTP: NdjsonDestination,
    DrainKind.OTLP: OtlpDestination,
}


def open_destination(spec: DrainSpec) -> Destination:
    """The destination of `spec`'s kind (nothing is contacted yet). Raises Invalid if the
    drain's TLS settings cannot be used."""
    return KINDS[spec.kind](spec)
