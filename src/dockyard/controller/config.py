"""Knobs of the controllers, passed in explicitly (settings.py builds them from the environment)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ControllerSettings:
    resync_s: float = 10.0
    """Every key is looked at this often even if nothing asked for it (level-triggered)."""
    workers: int = 8
    """Keys reconciled at once; one key is never reconciled by two workers."""
    parallel_stops: int = 16
    """Stops and removals at once (starts follow the runtime's own bound)."""
    progress_deadline_s: float = 120.0
    """A rollout with no new ready instance for this long is marked failed."""
    crash_loop_restarts: int = 3
    """A new instance restarted this often without becoming ready fails the rollout."""
    max_restart_delay_s: float = 60.0
    """Crash back-off doubles from 1 s up to this."""
    starting_probe_s: float = 0.2
    """How often a starting instance is probed, so readiness is seen within this."""
    first_ready_window_s: float = 2.0
    """A new instance is probed every `first_ready_poll_s` for this long right after start."""
    first_ready_poll_s: float = 0.05
    orphan_grace_s: float = 30.0
    """A labelled container nobody wants is removed after being seen this long."""
    log_tail: int = 20
    """Lines of a crashed instance's output kept in its status."""
    logs_shipped_wait_s: float = 10.0
    """Longest a stopped instance's container is kept for the agent to ship its last log lines
    (Docker deletes the log file with the container); past it the container goes anyway and an
    event says its last lines may be missing."""
    logs_shipped_poll_s: float = 0.1
    autoscale_s: float = 2.0
    """How often the autoscaler reads the agent's figures and decides (HPA: 15 s)."""
