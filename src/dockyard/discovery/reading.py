"""Every environment's endpoints of one service at once, for pages that show them all."""

from __future__ import annotations

from collections.abc import Sequence

from dockyard.discovery.endpoints import EndpointSet, answer, serves
from dockyard.domain.environment import Environment
from dockyard.domain.status import EnvKey
from dockyard.store.db import Reader
from dockyard.store.endpoints import ready_records, revision_ports


def endpoint_sets(
    reader: Reader, service_id: int, envs: Sequence[Environment]
) -> tuple[EndpointSet, ...]:
    """The endpoint set of each of `envs` (no fallback), in that order: one query for the
    instances, and one per environment with ready instances for their revisions' ports."""
    keys = [EnvKey(service_id, env) for env in envs]
    found = ready_records(reader, keys)
    sets = []
    for key in keys:
        records = found[key]
        ports = revision_ports(reader, key, {r.revision for r in records if serves(r)})
        sets.append(answer(key.env, [(key.env, records)], {key.env: ports}))
    return tuple(sets)
