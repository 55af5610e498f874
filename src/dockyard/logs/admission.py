"""Which batches a consumer takes now, keeping each source's lines in order: a pure rule.

Consumers skip lines at or below the highest number they hold for a source, so a batch must
never be taken while an earlier one of its source is still out: the stream delivers again,
after its ack wait, what a killed consumer had fetched but not acknowledged, and meanwhile
hands out newer batches at once. Taking those would raise the mark over the missing lines,
which would then be skipped as duplicates: lost. So a batch that leaves a gap after what is
held is put back (to come again shortly) until the gap fills, or until it has waited so long
that the missing lines cannot be in the stream any more; then it is taken and the gap counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from dockyard.logs.record import Batch


@dataclass(frozen=True)
class Admitted:
    take: tuple[int, ...]
    """Indexes (into the batches offered) to take now, in order."""
    hold: tuple[int, ...]
    """Indexes to put back: an earlier batch of their source is still out."""
    gaps: tuple[tuple[str, int, int], ...]
    """(source key, first missing, last missing) accepted as lost."""


@dataclass
class Waiting:
    """Since when (consumer's clock) each source has had a batch waiting for a gap to fill."""

    since: dict[str, float] = field(default_factory=dict)


def admit(
    batches: Sequence[Batch],
    *,
    held: Callable[[str], int],
    waiting: Waiting,
    now: float,
    gap_wait_s: float,
) -> Admitted:
    """Decide for each batch, in the order offered. `held(key)` is the highest number held for
    a source before these batches; `waiting` is updated (a source leaves it once no batch of
    it is held back)."""
    high: dict[str, int] = {}
    take: list[int] = []
    hold: list[int] = []
    gaps: list[tuple[str, int, int]] = []
    held_back: set[str] = set()
    for i, batch in enumerate(batches):
        key = batch.source.key
        top = high[key] if key in high else held(key)
        if batch.first_seq <= top + 1:
            take.append(i)
            high[key] = max(top, batch.last_seq)
            continue
        started = waiting.since.setdefault(key, now)
        if now - started < gap_wait_s:
            hold.append(i)
            held_back.add(key)
            continue
        gaps.append((key, top + 1, batch.first_seq - 1))
        take.append(i)
        high[key] = batch.last_seq
    for key in list(waiting.since):
        if key not in held_back and key in high:
            del waiting.since[key]
    return Admitted(tuple(take), tuple(hold), tuple(gaps))
