"""The agent's sweep of log leftovers on one host: the declared-file directory (`files_dir/<id>`),
the shipped mark and any checkpoint of an instance whose container is long gone.

The controller removes a container only once the agent marked it shipped, and the runtime
removes its directory with it; but a container removed by hand, or by an engine while no agent
ran, leaves them behind, and shipped marks were never removed at all. Each pass of the log part
lists what is on disk and which instances still have a container (any state, any platform on
the engine: more present only keeps more), decides (`sweep`, pure) and acts.

An instance's leftovers go once it had no container and no source followed for `grace_s`
without a break, as this agent saw it: a directory is made just before its container (a start
in flight is not a leftover), and the last lines of a removed container are still being read
from the file it left open. A checkpoint left then is counted lost unless the instance was
marked shipped (Shipper.gone_unread), before the mark goes.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.logs.shipper import Shipper

log = logging.getLogger("dockyard.agent.logs")


@dataclass(frozen=True)
class Sweep:
    """What one pass does about log leftovers."""

    remove: tuple[str, ...] = ()
    """Instances whose directory, mark and checkpoints go now."""
    absent_since: dict[str, float] = field(default_factory=dict)
    """When each instance with leftovers but no container was first seen so: the next input."""


def sweep(
    leftovers: Collection[str],
    *,
    present: Collection[str],
    absent_since: Mapping[str, float],
    now: float,
    grace_s: float,
) -> Sweep:
    """Which of the instances with `leftovers` on disk go: those absent from `present` (a
    container, or a source followed) for `grace_s` since `absent_since` (kept for the ones
    still waiting; an instance present again starts over)."""
    remove: list[str] = []
    since: dict[str, float] = {}
    for instance in sorted(set(leftovers) - set(present)):
        first = absent_since.get(instance, now)
        if now - first >= grace_s:
            remove.append(instance)
        else:
            since[instance] = first
    return Sweep(tuple(remove), since)


def instance_of(key: str) -> str:
    """The instance of a source key (`team/service/env/instance/channel`); "" if none."""
    parts = key.split("/", 4)
    return parts[3] if len(parts) == 5 else ""


class LogLeftovers:
    """The leftovers of one host's log part: its shipper's checkpoints and marks, and the
    declared-file directories under `files_dir` (None: none are looked at)."""

    def __init__(self, shipper: Shipper, files_dir: Path | None, *, grace_s: float) -> None:
        self._shipper = shipper
        self._files_dir = files_dir
        self._grace_s = grace_s
        self._absent_since: dict[str, float] = {}

    def pass_(self, containers: Collection[str], *, now: float) -> tuple[str, ...]:
        """One pass (blocking: run it in a thread), `containers` the instances that have one
        now: returns the instances swept."""
        checkpointed: dict[str, list[str]] = {}
        for key in self._shipper.checkpointed():
            checkpointed.setdefault(instance_of(key), []).append(key)
        checkpointed.pop("", None)
        followed = {instance_of(key) for key in self._shipper.following()}
        found = set(checkpointed) | set(self._shipper.marked()) | set(self._dirs())
        decided = sweep(
            found,
            present=set(containers) | followed,
            absent_since=self._absent_since,
            now=now,
            grace_s=self._grace_s,
        )
        self._absent_since = decided.absent_since
        for instance in decided.remove:
            self._remove(instance, checkpointed.get(instance, []))
        return decided.remove

    def _remove(self, instance: str, keys: list[str]) -> None:
        for key in keys:  # counted lost unless shipped to the end: before the mark goes
            self._shipper.gone_unread(key, instance)
        self._shipper.unmark(instance)
        directory = self._dir(instance)
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
        log.info("logs: leftovers swept instance=%s checkpoints=%d", instance, len(keys))

    def _dirs(self) -> list[str]:
        if self._files_dir is None:
            return []
        try:
            return [e.name for e in os.scandir(self._files_dir) if e.is_dir(follow_symlinks=False)]
        except FileNotFoundError:
            return []

    def _dir(self, instance: str) -> Path | None:
        """The instance's own directory, only if it is a plain name right under `files_dir`."""
        if self._files_dir is None or not instance or instance in (".", "..") or "/" in instance:
            return None
        path = self._files_dir / instance
        return path if path.is_dir() and not path.is_symlink() else None
