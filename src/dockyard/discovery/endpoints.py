"""Endpoints: which instances of a service environment serve, and the stable-fallback rule.

Pure functions over the controller's instance records (domain/status.py). An instance is an
endpoint from the pass that saw its health check pass until the pass that marks it draining:
the controller writes the draining mark before it stops the container, so an endpoint always
leaves the set before its container goes. (There are no warm standby instances yet; when they
come they must not be READY until they take traffic.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from dockyard.domain.environment import Environment
from dockyard.domain.spec import Port
from dockyard.domain.status import Health, InstanceRecord


@dataclass(frozen=True)
class Endpoint:
    """One ready instance: where to reach it and what it runs."""

    instance: str
    address: str
    ports: tuple[Port, ...]
    """The ports of the instance's revision (its release spec), reached at `address`."""
    revision: int
    ready_at: datetime | None
    host: str | None = None
    """The host the instance runs on; None while the controller does not record hosts."""


@dataclass(frozen=True)
class EndpointSet:
    """The answer to one question: the endpoints of `env_used` (which may differ from the
    environment asked for, under fallback) and the version naming exactly this answer."""

    env: Environment
    env_used: Environment
    endpoints: tuple[Endpoint, ...]
    version: str


def serves(record: InstanceRecord) -> bool:
    """True if the instance takes traffic: ready, running, with an address, not draining."""
    return (
        record.health is Health.READY
        and record.state == "running"
        and bool(record.ip)
        and record.drain_until is None
    )


def endpoints_of(
    records: Iterable[InstanceRecord], ports: Mapping[int, tuple[Port, ...]]
) -> tuple[Endpoint, ...]:
    """The serving instances of `records`, by instance id; `ports` maps revision to ports (a
    revision missing from it has none)."""
    return tuple(
        Endpoint(
            instance=r.id,
            address=r.ip or "",
            ports=ports.get(r.revision, ()),
            revision=r.revision,
            ready_at=r.ready_at,
        )
        for r in sorted(records, key=lambda r: r.id)
        if serves(r)
    )


def fingerprint(records: Iterable[InstanceRecord]) -> str:
    """A short hash of the serving instances of one key: equal while the ready set is equal.

    Ports are left out: they belong to the revision, and releases never change.
    `ready_at` is in, so an instance that leaves and comes back is a change too.
    """
    parts = sorted(
        f"{r.id}|{r.ip}|{r.revision}|{r.ready_at.isoformat() if r.ready_at else ''}"
        for r in records
        if serves(r)
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def answer_version(env_used: Environment, key_fingerprint: str) -> str:
    """The version of an answer: its environment and that environment's fingerprint."""
    return f"{env_used.value}-{key_fingerprint}"


def candidates(env: Environment, *, fallback: bool) -> tuple[Environment, ...]:
    """The environments an answer for `env` may come from, in order of preference.

    Only `test` falls back, and only to `stable` (its long-running offline instances);
    `sandbox` and `online` never fall back, and no offline environment reaches an online one.
    """
    if fallback and env is Environment.TEST:
        return (Environment.TEST, Environment.STABLE)
    return (env,)


def choose(
    env: Environment, found: Sequence[tuple[Environment, Sequence[InstanceRecord]]]
) -> tuple[Environment, Sequence[InstanceRecord]]:
    """The first of `found` (in `candidates` order) with a serving instance; if none has one,
    the environment asked for, empty. Only environments of `env`'s network are considered."""
    for candidate, records in found:
        if candidate.network == env.network and any(serves(r) for r in records):
            return candidate, records
    return env, ()


def answer(
    env: Environment,
    found: Sequence[tuple[Environment, Sequence[InstanceRecord]]],
    ports: Mapping[Environment, Mapping[int, tuple[Port, ...]]],
) -> EndpointSet:
    """The endpoint set answering `env` from the records of its `candidates`."""
    used, records = choose(env, found)
    return EndpointSet(
        env=env,
        env_used=used,
        endpoints=endpoints_of(records, ports.get(used, {})),
        version=answer_version(used, fingerprint(records)),
    )
