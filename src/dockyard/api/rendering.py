"""JSON answers of the hot read routes (a page of services, one service in detail), joined
from renderings that are kept for as long as what they render is unchanged.

Rendering one service through its pydantic schema costs ~30 µs, a page of 100 ~3 ms, while the
JSON of a service changes only with its row version and that of a release never. So both are
rendered once and kept, under the service's ServiceStamp and the release's service and number,
in a bounded table. The schemas stay the one definition of every shape: they
render each part; this module only joins parts into the envelopes `ServicePage`,
`EnvironmentPublic` and `ServiceDetail` document (a test holds the two in step).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar, cast

from fastapi import Depends, Request, Response

from dockyard.api.schemas import EnvStatusPublic, InstancePublic, ReleasePublic, ServicePublic
from dockyard.domain.environment import Environment
from dockyard.store.views import EnvStateView, ReleaseView, ServiceStamp, ServiceView

K = TypeVar("K")
V = TypeVar("V")

DEFAULT_CAPACITY = 10_000
"""Renderings kept of each kind (services, releases): ~1 KiB each, ~20 MiB in all at most."""


class _Kept(Generic[K, V]):
    """A mapping that forgets its oldest entries past `capacity`. Oldest, not least recently
    used: a hit costs one dict lookup, and a kept entry only saves work, so forgetting a hot
    one now and then costs one rendering."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        if len(self._items) > self._capacity:
            del self._items[next(iter(self._items))]


class Renderings:
    """Kept JSON of services (per version) and of releases. Not thread-safe: the routes that
    use it run on the event loop."""

    def __init__(self, *, capacity: int = DEFAULT_CAPACITY) -> None:
        self._services: _Kept[ServiceStamp, bytes] = _Kept(capacity)
        self._releases: _Kept[tuple[int, str, str, int], bytes] = _Kept(capacity)

    def kept_service(self, stamp: ServiceStamp) -> bytes | None:
        """The kept JSON of exactly this version of the service, or None."""
        return self._services.get(stamp)

    def service(self, stamp: ServiceStamp, view: ServiceView) -> bytes:
        """The JSON of `view`, the service as of `stamp`: kept, or rendered now and kept."""
        rendered = self.kept_service(stamp)
        if rendered is None:
            rendered = ServicePublic.of(view).model_dump_json().encode()
            self._services.put(stamp, rendered)
        return rendered

    def kept_release(self, stamp: ServiceStamp, env: Environment, number: int) -> bytes | None:
        """The kept JSON of revision `number` of `env` of the service `stamp` names, or None.
        A release never changes, so it is known by its service, environment and number."""
        return self._releases.get((stamp.id, stamp.created, env.value, number))

    def release(self, stamp: ServiceStamp, view: ReleaseView) -> bytes:
        """The JSON of `view`, a release of the service `stamp` names: kept, or rendered now
        and kept."""
        rendered = self.kept_release(stamp, view.env, view.number)
        if rendered is None:
            rendered = ReleasePublic.of(view).model_dump_json().encode()
            self._releases.put((stamp.id, stamp.created, view.env.value, view.number), rendered)
        return rendered


def _json(value: str | None) -> bytes:
    return json.dumps(value).encode()


def page_json(items: Sequence[bytes], next_name: str | None) -> bytes:
    """A `ServicePage` of services already rendered."""
    return b'{"items":[%b],"next":%b}' % (b",".join(items), _json(next_name))


def environment_json(view: EnvStateView, current: bytes | None) -> bytes:
    """An `EnvironmentPublic`, its current release (if any) already rendered."""
    status = EnvStatusPublic.model_validate(view.status).model_dump_json().encode()
    instances = b",".join(
        InstancePublic.model_validate(instance).model_dump_json().encode()
        for instance in view.instances
    )
    return b'{"env":%b,"current":%b,"status":%b,"instances":[%b]}' % (
        _json(view.env.value),
        current if current is not None else b"null",
        status,
        instances,
    )


def detail_json(service: bytes, environments: Sequence[bytes]) -> bytes:
    """A `ServiceDetail`: the service's JSON object with `environments` added as its last key."""
    if not service.endswith(b"}"):
        raise ValueError("a rendered service must be one JSON object")
    return b'%b,"environments":[%b]}' % (service[:-1], b",".join(environments))


def json_response(content: bytes) -> Response:
    """An answer already rendered: FastAPI neither validates nor re-encodes it."""
    return Response(content, media_type="application/json")


async def _renderings(request: Request) -> Renderings:
    return cast(Renderings, request.app.state.renderings)


Kept = Annotated[Renderings, Depends(_renderings)]
"""Route parameter type: this app's kept renderings."""
