"""The agent's log part: follows the console log and the declared log files of every Dockyard
container on this host and hands them to the shipper (logs/shipper.py), which reads Docker's
json-file straight from the container's LogPath, and each declared file from the per-instance
host directory the runtime mounted (agent/logfiles.py), and publishes them to the log stream.
The service's multi-line rule (a container label) joins records in both.

Level-triggered like the other parts: a pass lists this platform's containers every
`interval_s` (running ones are followed live; stopped ones are read to their end and marked
shipped; removed ones are read to the end of the file still open, then dropped), and Docker's
start, die and destroy events make the same changes at once. Declared files appearing later are
picked up by the next pass (and at each event). The Docker SDK blocks: listing, inspecting,
listing directories and the events stream run in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException
from docker.errors import NotFound as EngineNotFound
from requests.exceptions import RequestException

from dockyard.agent.limits import LimitsSource
from dockyard.agent.log_sweep import LogLeftovers
from dockyard.agent.logfiles import found_files, rule_of, split_under
from dockyard.domain.errors import DockyardError, Invalid, Unavailable
from dockyard.domain.instance import (
    LABEL_INSTANCE,
    Owner,
    Platform,
    owner_from_labels,
)
from dockyard.domain.logfiles import DeclaredFiles, files_of_labels, multiline_of_labels
from dockyard.domain.lograte import rate_of_labels
from dockyard.logs.budget import UNLIMITED, Rate
from dockyard.logs.multiline import MultilineRule
from dockyard.logs.reader import Format
from dockyard.logs.record import Source
from dockyard.logs.shipper import Followed, Shipper, keys

log = logging.getLogger("dockyard.agent.logs")

EVENTS = ["start", "die", "destroy"]
EVENTS_RETRY_S = 2.0
BEAT_S = 5.0
"""How often the log part says on disk that it runs (CheckpointStore.beat)."""
# What a pass or an event may fail with (the engine, the disk, an odd inspect answer): logged,
# and the next pass tries again.
PASS_ERRORS = (DockerException, RequestException, OSError, DockyardError, KeyError, TypeError)
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)b?\s*$", re.IGNORECASE)


def size_bytes(value: str) -> int:
    """Docker's max-size (`10m`, `1k`, `512`) in bytes (units of 1024, as Docker reads them);
    0 if it is not one."""
    match = _SIZE.match(value or "")
    if match is None:
        return 0
    number, unit = match.groups()
    return int(float(number) * 1024 ** "_kmg".index(unit.lower() or "_"))


@dataclass(frozen=True)
class Sources:
    """What one Dockyard container has to ship: its console log (None without a json-file
    log) and its declared files (found on disk at each look)."""

    base: Source
    console: Followed | None
    files: tuple[DeclaredFiles, ...] = ()
    multiline: MultilineRule | None = None
    rate: Rate = UNLIMITED

    def followed(self, *, already: set[str]) -> list[Followed]:
        """Every source present now (lists directories: run it in a thread); `already` are
        the keys followed before (their rotated files are theirs, not new sources)."""
        out = [self.console] if self.console is not None else []
        channels = [key.split("/", 4)[-1] for key in already]
        for declared in self.files:
            for found in found_files(declared, self.base, followed=channels):
                path = Path(found.path)
                out.append(
                    Followed(found.source, path, Format.PLAIN, self.multiline, rate=self.rate)
                )
        return out


def sources_of(
    info: dict[str, Any], *, host: str, default_rate: Rate = UNLIMITED
) -> Sources | None:
    """What to ship of one inspected container; None if it is not Dockyard's. Malformed log
    labels (not written by Dockyard's runtime) are logged and ignored: its console is still
    shipped, as lines that are not joined, under `default_rate` (the flood budget of a service
    that declares none)."""
    labels = (info.get("Config") or {}).get("Labels") or {}
    owner = owner_from_labels(labels)
    if owner is None:
        return None
    team, service, env, _, instance, _ = owner
    base = Source(team, service, env, instance, host=host)
    try:
        files, multiline = files_of_labels(labels), rule_of(multiline_of_labels(labels))
    except Invalid as exc:
        log.warning("logs: declared files ignored %s error=%s", keys(base), exc)
        files, multiline = (), None
    rate = _rate_of(labels, base, default_rate)
    log_path = info.get("LogPath") or ""
    log_config = (info.get("HostConfig") or {}).get("LogConfig") or {}
    console = None
    if log_path and log_config.get("Type", "json-file") == "json-file":
        console = Followed(
            source=base,
            path=Path(log_path),
            fmt=Format.JSON_FILE,
            multiline=multiline,
            rotate_bytes=size_bytes((log_config.get("Config") or {}).get("max-size", "")),
            rate=rate,
        )
    return Sources(base, console, files, multiline, rate)


def _rate_of(labels: dict[str, str], base: Source, default: Rate) -> Rate:
    try:
        declared = rate_of_labels(labels)
    except Invalid as exc:
        log.warning("logs: flood budget label ignored %s error=%s", keys(base), exc)
        return default
    return default if declared is None else Rate(declared.lines_per_s, declared.burst)


def followed_of(info: dict[str, Any], *, host: str) -> Followed | None:
    """What to ship of one inspected container's console log; None if it is not Dockyard's or
    has no json-file log (another log driver, or never started)."""
    found = sources_of(info, host=host)
    return found.console if found is not None else None


class ConsoleLogs:
    """Ships the console logs of one Docker engine's Dockyard containers on this host."""

    def __init__(
        self,
        *,
        engine: docker.APIClient,
        shipper: Shipper,
        platform: LimitsSource | None = None,
        owner: Owner | None = None,
        host: str = "",
        files_dir: Path | None = None,
        default_rate: Rate = UNLIMITED,
        sweep_grace_s: float = 3600.0,
        interval_s: float = 30.0,
        report_s: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`platform` is asked which installation's containers to ship (the server's answer
        names it, as for bandwidth limits); until it names one, or without it, every Dockyard
        container of the engine is shipped. `owner` narrows them further (tests). The
        counters are logged every `report_s`. Declared log files are read only from
        directories under `files_dir` (where the runtime makes them), whatever a container's
        labels say; None (tests) trusts the labels. `default_rate` is the flood budget of a
        service that declares none (logs/throttle.py). The leftovers of an instance whose
        container is gone go `sweep_grace_s` after (agent/log_sweep.py)."""
        self._engine = engine
        self.shipper = shipper
        self._platform_source = platform
        self._report_s = report_s
        self._owner = owner or Owner()
        self._host = host
        self._files_dir = files_dir
        self._default_rate = default_rate
        self._leftovers = LogLeftovers(shipper, files_dir, grace_s=sweep_grace_s)
        self._interval_s = interval_s
        self._monotonic = monotonic
        self._known: dict[str, Sources] = {}  # container id -> what is shipped of it
        self._keys: dict[str, set[str]] = {}  # container id -> the keys of its sources
        self._swept = False
        # Keys with a checkpoint when this agent started: a declared file followed by an agent
        # before it still owns its rotated generations (see Sources.followed).
        self._restored: set[str] | None = None
        self._stream: Any = None

    def shipped(self, instance: str) -> bool:
        """True once `instance`'s console log and declared files were shipped to their end
        after it stopped."""
        return self.shipper.shipped(instance)

    async def run(self) -> None:
        """Follow containers until cancelled; never returns otherwise. A failed pass or event
        is logged and tried again; a shipper that ends is a failure (raised)."""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        stop = threading.Event()
        watcher = threading.Thread(
            target=self._watch, args=(stop, loop, events), name="logs-events", daemon=True
        )
        shipping = asyncio.create_task(self.shipper.run(), name="logs-shipper")
        watcher.start()
        try:
            next_pass = next_report = next_beat = self._monotonic()
            while not shipping.done():
                if self._monotonic() >= next_beat:
                    # The controller waits for shipped marks only while this says it runs.
                    await self._guarded(asyncio.to_thread(self.shipper.beat))
                    next_beat = self._monotonic() + BEAT_S
                if self._monotonic() >= next_pass:
                    await self._guarded(self.sync())
                    next_pass = self._monotonic() + self._interval_s
                if self._monotonic() >= next_report:
                    log.info("logs: %s", self.shipper.counters.summary())
                    next_report = self._monotonic() + self._report_s
                wait = max(next_pass - self._monotonic(), 0.0)
                try:
                    event = await asyncio.wait_for(events.get(), timeout=min(wait, 1.0))
                except TimeoutError:
                    continue
                await self._guarded(self._on_event(event))
            await shipping  # raises what ended it
            raise RuntimeError("the log shipper returned")
        finally:
            stop.set()
            self._close_stream()
            shipping.cancel()
            await asyncio.gather(shipping, return_exceptions=True)
            await asyncio.to_thread(watcher.join, EVENTS_RETRY_S + 1)

    async def sync(self) -> None:
        """One pass: every container of ours followed as its state says, removed ones
        forgotten."""
        if self._restored is None:
            self._restored = set(await asyncio.to_thread(self.shipper.checkpointed))
        await asyncio.to_thread(self._learn_platform)
        found = await asyncio.to_thread(self._list)
        for container_id, (followed, running) in found.items():
            self._follow(container_id, followed, live=running)
        for container_id in set(self._known) - set(found):
            self._forget(container_id)
        if not self._swept:
            present = {f.source.key for followed, _ in found.values() for f in followed}
            await asyncio.to_thread(self._sweep, present)
            self._swept = True
        await asyncio.to_thread(self._sweep_leftovers)

    def _follow(self, container_id: str, followed: list[Followed], *, live: bool) -> None:
        """Every source of one container, followed together (in one step of the loop, so a
        stopped instance's shipped mark waits for all of them: logs/shipper.py)."""
        keys = self._keys.setdefault(container_id, set())
        for one in followed:
            keys.add(one.source.key)
            self.shipper.follow(one, live=live)

    def _forget(self, container_id: str) -> None:
        self._known.pop(container_id, None)
        for key in self._keys.pop(container_id, set()):
            self.shipper.forget(key)

    def _sweep(self, present: set[str]) -> None:
        """Once, after the first full listing: checkpoints of sources (consoles and declared
        files) whose container is gone (removed while no agent ran) are dropped, their
        unshipped rest counted lost. Only when every Dockyard container is ours (no owner
        filter) can absence tell."""
        if self._owner != Owner():
            return
        for key in self.shipper.checkpointed():
            parts = key.split("/", 4)
            if len(parts) == 5 and parts[4] and key not in present:
                self.shipper.gone_unread(key, parts[3])

    def _sweep_leftovers(self) -> None:
        """Leftovers of instances with no container on the engine (of any owner) go after the
        grace (agent/log_sweep.py)."""
        listed = self._engine.containers(all=True, filters={"label": LABEL_INSTANCE})
        here = {(entry.get("Labels") or {}).get(LABEL_INSTANCE, "") for entry in listed}
        self._leftovers.pass_(here, now=self._monotonic())

    # ---- engine calls (in threads) ----

    def _list(self) -> dict[str, tuple[list[Followed], bool]]:
        out: dict[str, tuple[list[Followed], bool]] = {}
        for entry in self._engine.containers(all=True, filters={"label": self._selector()}):
            labels = entry.get("Labels") or {}
            if not self._selected(labels):
                continue
            followed = self._sources(entry["Id"])
            if followed:
                out[entry["Id"]] = (followed, entry.get("State") == "running")
        return out

    def _sources(self, container_id: str) -> list[Followed]:
        """The container's sources present now (its declared files listed again)."""
        found = self._known.get(container_id) or self._inspect(container_id)
        if found is None:
            return []
        prefix = found.base.key.removesuffix(found.base.channel)
        restored = {key for key in self._restored or () if key.startswith(prefix)}
        return found.followed(already=set(self._keys.get(container_id, ())) | restored)

    def _inspect(self, container_id: str) -> Sources | None:
        try:
            info = self._engine.inspect_container(container_id)
        except EngineNotFound:
            return None
        if not self._selected((info.get("Config") or {}).get("Labels") or {}):
            return None
        found = sources_of(info, host=self._host, default_rate=self._default_rate)
        if found is not None and self._files_dir is not None:
            found = replace(found, files=self._inside(found))
        if found is not None and (found.console is not None or found.files):
            self._known[container_id] = found
            return found
        return None

    def _inside(self, found: Sources) -> tuple[DeclaredFiles, ...]:
        """The declared files whose directory is under `files_dir`; the others are logged."""
        inside, outside = split_under(found.files, self._files_dir or Path("/"))
        for files in outside:
            log.warning("logs: declared files outside %s ignored %s dir=%s",
                        self._files_dir, keys(found.base), files.dir)  # fmt: skip
        return inside

    async def _on_event(self, event: dict[str, Any]) -> None:
        container_id, action = (
            str(event.get("id") or ""),
            event.get("Action") or event.get("status"),
        )
        if not container_id:
            return
        if action == "destroy":
            self._forget(container_id)
            return
        # Listed again at a die too: a file made just before the end is shipped before the
        # instance is marked shipped (and its directory removed with it).
        followed = await asyncio.to_thread(self._sources, container_id)
        self._follow(container_id, followed, live=action == "start")

    def _watch(
        self,
        stop: threading.Event,
        loop: asyncio.AbstractEventLoop,
        events: asyncio.Queue[dict[str, Any]],
    ) -> None:
        """Feeds container events to the loop; reconnects when the stream breaks."""
        while not stop.is_set():
            try:
                self._stream = self._engine.events(
                    decode=True,
                    filters={"type": "container", "event": EVENTS, "label": self._selector()},
                )
                for event in self._stream:
                    if stop.is_set():
                        return
                    loop.call_soon_threadsafe(events.put_nowait, event)
            except (DockerException, RequestException, OSError, ValueError) as exc:
                if not stop.is_set():
                    log.warning("logs: engine events interrupted: %s", exc)
            except RuntimeError:  # the loop closed while the agent stops
                return
            self._stream = None
            stop.wait(EVENTS_RETRY_S)

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):  # closing a broken stream: nothing to release
                stream.close()

    async def _guarded(self, work: Any) -> None:
        try:
            await work
        except PASS_ERRORS as exc:
            log.error("logs: following containers failed, retrying: %s", exc)

    # ---- selection ----

    def _platform(self) -> Platform | None:
        return self._platform_source.platform if self._platform_source is not None else None

    def _learn_platform(self) -> None:
        """Ask for the platform until an answer names it (it never changes afterwards)."""
        if self._platform_source is None or self._platform_source.platform is not None:
            return
        try:
            self._platform_source.fetch()
        except Unavailable as exc:
            log.debug("logs: platform not known yet, shipping every Dockyard container: %s", exc)

    def _selector(self) -> list[str]:
        """The engine's label filter for `owner`'s containers."""
        return self._owner.selector()

    def _selected(self, labels: dict[str, str]) -> bool:
        """True for `owner`'s containers of this platform (another installation's on the same
        engine are its own agent's to ship)."""
        return self._owner.selects(labels, self._platform())
