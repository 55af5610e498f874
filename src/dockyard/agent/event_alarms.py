"""The agent's built-in alarms part: follows the engine's events for this host's Dockyard
containers and posts the alerts metrics/instance_alarms.py decides (exited, OOM-killed,
crash-looping) to Alertmanager through the outbox, the moment they happen, not a scrape later.

The Docker SDK blocks, so the event stream is read in a thread that hands events to the loop.
A broken stream is logged and opened again with back-off (1 s doubling to 30 s), asking for
the events since the last one seen so a short break loses none (repeats are skipped). The
part runs until cancelled; an outbox that ends is a failure (raised).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from docker.errors import DockerException
from requests.exceptions import RequestException

from dockyard.domain.instance import (
    LABEL_ENV,
    LABEL_INSTANCE,
    LABEL_MANAGED,
    LABEL_SERVICE,
    LABEL_TEAM,
)
from dockyard.metrics.alert import Alert, Identity
from dockyard.metrics.alert_outbox import AlertOutbox
from dockyard.metrics.instance_alarms import ContainerEvent, InstanceAlarms

log = logging.getLogger("dockyard.agent.alarms")

ACTIONS = ["kill", "oom", "die", "destroy"]
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 30.0
JOIN_S = 3.0
"""How long a stop waits for the event thread (a daemon: it cannot outlive the process)."""
SEEN_KEPT = 512
"""Event keys remembered to skip the repeats a reconnect's `since` replays."""


def container_event(raw: Mapping[str, Any], *, host: str) -> ContainerEvent | None:
    """The engine's JSON of one container event, or None if it is not a Dockyard instance's
    or not an event the alarms read."""
    action = str(raw.get("Action") or raw.get("status") or "")
    actor = raw.get("Actor") or {}
    attributes: Mapping[str, str] = actor.get("Attributes") or {}
    container = str(actor.get("ID") or raw.get("id") or "")
    names = (LABEL_TEAM, LABEL_SERVICE, LABEL_ENV, LABEL_INSTANCE)
    if action not in ACTIONS or not container or not all(attributes.get(n) for n in names):
        return None
    identity = Identity(
        team=attributes[LABEL_TEAM],
        service=attributes[LABEL_SERVICE],
        env=attributes[LABEL_ENV],
        instance=attributes[LABEL_INSTANCE],
        host=host,
    )
    return ContainerEvent(action, container, identity, _when(raw), _exit_code(attributes))


def _when(raw: Mapping[str, Any]) -> datetime:
    nanos = raw.get("timeNano")
    seconds = nanos / 1e9 if isinstance(nanos, int) else float(raw.get("time") or 0)
    return datetime.fromtimestamp(seconds, UTC)


def _exit_code(attributes: Mapping[str, str]) -> int | None:
    raw = attributes.get("exitCode")
    return int(raw) if raw is not None and raw.lstrip("-").isdigit() else None


class EventAlarms:
    """The part (see the module's docstring). `engine` is a docker.APIClient."""

    def __init__(
        self,
        engine: Any,
        outbox: AlertOutbox,
        *,
        host: str,
        alarms: InstanceAlarms | None = None,
        retry_s: float = RETRY_FIRST_S,
    ) -> None:
        """`retry_s`: the first pause before opening a broken stream again (then doubled)."""
        self._engine = engine
        self._retry_s = retry_s
        self._outbox = outbox
        self._host = host
        self.alarms = alarms or InstanceAlarms()
        self._stream: Any = None
        self._seen: deque[tuple[str, str, int]] = deque(maxlen=SEEN_KEPT)
        self.following = threading.Event()
        """Set while the engine's event stream is open (the engine sends what happens from
        then on)."""

    async def run(self) -> None:
        """Follow events and post alerts until cancelled."""
        loop = asyncio.get_running_loop()

        def deliver(raw: Mapping[str, Any]) -> None:
            loop.call_soon_threadsafe(self._handle_logged, raw)

        stop = threading.Event()
        watcher = threading.Thread(
            target=self._watch, args=(stop, deliver), name="alarm-events", daemon=True
        )
        posting = asyncio.create_task(self._outbox.run(), name="alarm-outbox")
        watcher.start()
        try:
            # Events are handled as callbacks on this loop: awaiting only the outbox keeps a
            # cancellation from being lost to an event arriving at the same moment (as
            # asyncio.wait_for can lose it on Python 3.11).
            await posting  # raises what ended it
            raise RuntimeError("the alert outbox returned")
        finally:
            stop.set()
            self._close_stream()
            posting.cancel()
            await asyncio.gather(posting, return_exceptions=True)
            await asyncio.to_thread(watcher.join, JOIN_S)

    def _handle_logged(self, raw: Mapping[str, Any]) -> None:
        try:
            self.handle(raw)
        except Exception:  # one odd event must not stop the alarms: say which, go on
            log.exception("alarms: engine event not understood: %r", raw)

    def handle(self, raw: Mapping[str, Any]) -> list[Alert]:
        """One engine event: the alerts it raised, already queued for Alertmanager."""
        event = container_event(raw, host=self._host)
        if event is None:
            return []
        alerts = self.alarms.observe(event)
        self._outbox.put(alerts)
        return alerts

    def _watch(self, stop: threading.Event, deliver: Callable[[Mapping[str, Any]], None]) -> None:
        """Hands container events to `deliver`; opens the stream again when it breaks."""
        since: int | None = None
        delay = self._retry_s
        while not stop.is_set():
            try:
                self._stream = self._engine.events(
                    decode=True,
                    since=since,
                    filters={"type": "container", "event": ACTIONS, "label": [LABEL_MANAGED]},
                )
                self.following.set()
                for raw in self._stream:
                    if stop.is_set():
                        return
                    delay = self._retry_s
                    if isinstance(raw.get("time"), int):
                        since = raw["time"]  # a reconnect asks from here on
                    if self._repeat(raw):
                        continue
                    deliver(raw)
                reason = "the engine ended the stream"
            except (DockerException, RequestException, OSError, ValueError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except RuntimeError:  # the loop closed while the agent stops
                if stop.is_set():
                    return
                log.exception("alarms: engine events failed")
                reason = "an unexpected error (above)"
            except Exception:  # never end the thread silently: the part would look alive
                log.exception("alarms: engine events failed")
                reason = "an unexpected error (above)"
            self._stream = None
            self.following.clear()
            if not stop.is_set():
                log.warning("alarms: engine events interrupted, again in %.0f s: %s", delay, reason)
            stop.wait(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    def _repeat(self, raw: Mapping[str, Any]) -> bool:
        key = (
            str(raw.get("id") or ""),
            str(raw.get("Action") or ""),
            int(raw.get("timeNano") or 0),
        )
        if key in self._seen:
            return True
        self._seen.append(key)
        return False

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):  # closing a broken stream: nothing to release
                stream.close()
