"""Turning `service create/update` options into the service fields of docs/api.md.

Pure functions over plain data, so the rules (what merges, what replaces) are tested by tables.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

import typer

from dockyard.domain.errors import Invalid
from dockyard.domain.publish import parse_publish, publish_json


@dataclass(frozen=True)
class SpecOptions:
    """The service fields a user gave on the command line; None/empty means "not given"."""

    image: str | None = None
    ports: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    unset_env: tuple[str, ...] = ()
    cpus: float | None = None
    memory_mb: int | None = None
    pids: int | None = None
    default_limits: tuple[str, ...] = ()
    """Limits (cpus, memory_mb, pids) to leave to the environment's default."""
    health_http: str | None = None
    health_cmd: str | None = None
    health_port: int | None = None
    health_interval: float | None = None
    no_health: bool = False
    max_surge: int | None = None
    max_unavailable: int | None = None
    egress_mbit: int | None = None
    """Mbit/s; 0 lifts the limit."""
    ingress_mbit: int | None = None
    """Mbit/s; 0 lifts the limit."""
    log_paths: tuple[str, ...] = ()
    """Declared log files: replace the service's list."""
    no_log_paths: bool = False
    log_multiline: str | None = None
    """The start-of-record regex; the rule's bounds stay as they were (or the defaults)."""
    no_log_multiline: bool = False
    log_rate: int | None = None
    """The flood budget, lines/s per host; its burst stays as it was unless `log_burst`."""
    log_burst: int | None = None
    no_log_rate: bool = False
    """Back to the platform's default budget."""
    publish: str | None = None
    """Who else sees the endpoints: private, all, or team names separated by commas."""
    drain_s: float | None = None
    """Seconds a retired instance stays out of service, still running, before it is stopped."""
    stop_grace_s: float | None = None
    """Seconds between the stop signal and a kill."""

    def __post_init__(self) -> None:
        """Refuse contradictory options (a usage error) before anything is sent."""
        if self.health_http is not None and self.health_cmd is not None:
            raise typer.BadParameter("give --health-http or --health-cmd, not both")
        given = (self.health_http, self.health_cmd, self.health_port, self.health_interval)
        if self.no_health and any(value is not None for value in given):
            raise typer.BadParameter("--no-health cannot be combined with other --health options")
        if self.no_log_paths and self.log_paths:
            raise typer.BadParameter("--no-log-paths cannot be combined with --log-path")
        if self.no_log_multiline and self.log_multiline is not None:
            raise typer.BadParameter("--no-log-multiline cannot be combined with --log-multiline")
        if self.no_log_rate and (self.log_rate is not None or self.log_burst is not None):
            raise typer.BadParameter("--no-log-rate cannot be combined with --log-rate/--log-burst")
        for port in self.ports:
            parse_port(port)
        for name in self.default_limits:
            if name not in LIMITS:
                raise typer.BadParameter(
                    f"{name!r} is not a limit: use {', '.join(LIMITS)}",
                    param_hint="--default-limit",
                )
            if getattr(self, name) is not None:
                raise typer.BadParameter(
                    f"{name} is both given and left to the default: give one of them"
                )


LIMITS = ("cpus", "memory_mb", "pids")


def parse_port(text: str) -> dict[str, Any]:
    """`8080` or `8080/tcp` or `53/udp` -> {"container_port", "protocol"}; usage error otherwise."""
    number, _, protocol = text.partition("/")
    protocol = protocol or "tcp"
    if not number.isdigit() or protocol not in ("tcp", "udp"):
        raise typer.BadParameter(
            f"{text!r} is not PORT or PORT/tcp or PORT/udp", param_hint="--port"
        )
    return {"container_port": int(number), "protocol": protocol}


def spec_patch(options: SpecOptions, current: dict[str, Any]) -> dict[str, Any]:
    """The top-level service fields to send: only those the options touch.

    Nested objects (resources, health check, strategy, env) are merged into `current` (the
    service's present spec, `{}` on create), so changing the CPU keeps the memory as it was.
    Raises typer.BadParameter if a health option needs a check that neither exists nor is given.
    """
    plain = {"image": options.image, "drain_s": options.drain_s,
             "stop_grace_s": options.stop_grace_s}  # fmt: skip
    patch: dict[str, Any] = {key: value for key, value in plain.items() if value is not None}
    if options.ports:
        patch["ports"] = [parse_port(p) for p in options.ports]
    if options.env or options.unset_env:
        merged = {**(current.get("env") or {}), **options.env}
        patch["env"] = {k: v for k, v in merged.items() if k not in options.unset_env}
    resources = _resources(options, current.get("resources"))
    if resources is not None:
        patch["resources"] = resources
    strategy = _merge(
        current.get("strategy"),
        max_surge=options.max_surge,
        max_unavailable=options.max_unavailable,
    )
    if strategy is not None:
        patch["strategy"] = strategy
    bandwidth = _bandwidth(options, current.get("bandwidth"))
    if bandwidth is not None:
        patch["bandwidth"] = bandwidth
    health = _health(options, current.get("health_check"))
    if health is not _UNCHANGED:
        patch["health_check"] = health
    if options.log_paths or options.no_log_paths:
        patch["log_paths"] = list(options.log_paths)
    if options.log_multiline is not None:
        patch["log_multiline"] = {**(current.get("log_multiline") or {}),
                                  "start": options.log_multiline}  # fmt: skip
    elif options.no_log_multiline:
        patch["log_multiline"] = None
    rate = _log_rate(options, current.get("log_rate"))
    if rate is not _UNCHANGED:
        patch["log_rate"] = rate
    if options.publish is not None:
        patch["publish"] = _publish(options.publish)
    return patch


def _publish(given: str) -> str | list[str]:
    try:
        return publish_json(parse_publish(given))
    except Invalid as exc:
        raise typer.BadParameter(f"--publish: {exc.message}") from None


_UNCHANGED: Any = object()


def _merge(current: dict[str, Any] | None, **given: Any) -> dict[str, Any] | None:
    """`current` updated with the given (non-None) values; None when nothing was given."""
    chosen = {k: v for k, v in given.items() if v is not None}
    return {**(current or {}), **chosen} if chosen else None


def _resources(options: SpecOptions, current: dict[str, Any] | None) -> dict[str, Any] | None:
    """Limits merged into `current`; a limit in `default_limits` becomes null (the
    environment's default). None if no limit option was given."""
    given = {name: getattr(options, name) for name in LIMITS}
    chosen = {k: v for k, v in given.items() if v is not None}
    chosen.update(dict.fromkeys(options.default_limits))
    return {**(current or {}), **chosen} if chosen else None


def _bandwidth(options: SpecOptions, current: dict[str, Any] | None) -> dict[str, Any] | None:
    """Limits merged into `current`; a given 0 becomes null (unlimited). None if none given."""
    given = {"egress_mbit": options.egress_mbit, "ingress_mbit": options.ingress_mbit}
    chosen = {k: (v or None) for k, v in given.items() if v is not None}
    return {**(current or {}), **chosen} if chosen else None


def _log_rate(options: SpecOptions, current: dict[str, Any] | None) -> Any:
    """The budget merged into `current`; None to remove it. A burst needs a rate."""
    if options.no_log_rate:
        return None
    merged = _merge(current, lines_per_s=options.log_rate, burst=options.log_burst)
    if merged is None:
        return _UNCHANGED
    if "lines_per_s" not in merged:
        raise typer.BadParameter("--log-burst needs a rate: add --log-rate LINES_PER_S")
    return merged


def _health(options: SpecOptions, current: dict[str, Any] | None) -> Any:
    if options.no_health:
        return None
    if options.health_http is not None:
        check: dict[str, Any] = {"http_path": options.health_http}
    elif options.health_cmd is not None:
        check = {"command": shlex.split(options.health_cmd)}
    elif options.health_port is None and options.health_interval is None:
        return _UNCHANGED
    elif current is None:
        raise typer.BadParameter(
            "--health-port and --health-interval need a check: add --health-http or --health-cmd"
        )
    else:
        check = {k: v for k, v in current.items() if k in ("http_path", "command")}
    kept = {k: v for k, v in (current or {}).items() if k not in ("http_path", "command")}
    extra = {"port": options.health_port, "interval_s": options.health_interval}
    return {**kept, **check, **{k: v for k, v in extra.items() if v is not None}}
