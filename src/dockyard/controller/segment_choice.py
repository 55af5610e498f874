"""Which segment a new instance joins when several serve its environment. Pure: no I/O.

The reconciler asks `SegmentChoice.pick` for a segment before each start and reports back what
refused: the engine's "segment X is exhausted" (no free address) or a network that cannot be
made (a VLAN segment on a kernel without 802.1Q). A refused segment is skipped for the rest of
the pass, so a full one is asked once, not once per instance; the next pass starts afresh, since
addresses are freed all the time. Only when every segment refused does the instance wait, with
one reason naming each segment.

The order is stable, so instances fill one segment before spilling into the next: the segment
holding the service's fixed addresses for the environment first (its instances take those
first, and firewall allow-lists name them), then the oldest segment, then by name.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from dockyard.domain.environment import Environment
from dockyard.domain.errors import DockyardError, Exhausted, RuntimeFailure
from dockyard.domain.segment import Segment

# The IPAM driver's words (network/ipam/allocator.py), wrapped by the engine's refusal.
_HOW_FULL = re.compile(r"is exhausted \(([^)]*)\)")


@dataclass(frozen=True)
class Candidate:
    """A segment serving the environment, as the choice sees it."""

    segment: Segment
    created_at: datetime
    fixed: bool = False
    """True if it holds a fixed address of the service in this environment."""


def order(candidates: Iterable[Candidate]) -> tuple[Segment, ...]:
    """The segments to try, best first: the one with the service's fixed addresses, then by
    creation time, then by name (a total order, so every pass tries them alike)."""
    ranked = sorted(candidates, key=lambda c: (not c.fixed, c.created_at, c.segment.name))
    return tuple(c.segment for c in ranked)


def candidates(
    segments: Iterable[tuple[Segment, datetime]],
    *,
    env: Environment,
    fixed_in: Collection[str] = (),
) -> list[Candidate]:
    """The segments serving `env`, marked when they hold the service's fixed addresses."""
    return [
        Candidate(segment, created_at, fixed=segment.name in fixed_in)
        for segment, created_at in segments
        if env in segment.environments
    ]


def how_full(message: str) -> str:
    """ "6 of 6 used" out of an exhausted segment's message; the message itself otherwise."""
    found = _HOW_FULL.search(message)
    return found.group(1) if found else message


@dataclass
class SegmentChoice:
    """The segments one pass may start instances on, and which of them refused so far.

    Not shared between passes. Safe within one event loop: callers pick and refuse between
    awaits, never across one.
    """

    env: Environment
    segments: tuple[Segment, ...]
    refused: dict[str, DockyardError] = field(default_factory=dict)

    @property
    def uses_segments(self) -> bool:
        """False when no segment serves the environment: the runtime's default network."""
        return bool(self.segments)

    def pick(self) -> Segment | None:
        """The first segment not refused in this pass; None once all have refused."""
        return next((s for s in self.segments if s.name not in self.refused), None)

    def refuse(self, segment: Segment, error: DockyardError) -> None:
        """Skip `segment` for the rest of the pass (the first reason is kept)."""
        self.refused.setdefault(segment.name, error)

    def give_up(self) -> DockyardError:
        """The error to wait (or fail) with once every segment refused.

        Exhausted if any segment was merely full (an address may be freed: the instance waits);
        otherwise the refusal itself (one segment) or a RuntimeFailure naming each (several).
        A single segment's error is returned as it came, with its own advice.
        """
        errors = [self.refused[s.name] for s in self.segments if s.name in self.refused]
        if len(errors) == 1:
            return errors[0]
        if errors and all(isinstance(e, Exhausted) for e in errors):
            return Exhausted(
                f"all {len(errors)} segments serving {self.env.value} are exhausted: "
                f"{self._reasons()}: scale something down, release leaked addresses "
                f"(`dockyard ipam check`), or add a segment for {self.env.value}"
            )
        text = f"no segment serving {self.env.value} can take a new instance: {self._reasons()}"
        if any(isinstance(e, Exhausted) for e in errors):
            return Exhausted(text)
        return RuntimeFailure(text, field="segment")

    def _reasons(self) -> str:
        parts = []
        for segment in self.segments:
            error = self.refused.get(segment.name)
            if isinstance(error, Exhausted):
                parts.append(f"{segment.name} ({how_full(error.message)})")
            elif error is not None:
                parts.append(f"{segment.name} ({error.message})")
        return ", ".join(parts)
