"""Where the agent learns the bandwidth limits in force: the platform's REST API.

A container's labels hold the limits it was started with, but labels never change on a running
container, while limits must change live. So the agent asks the server, the one place that
knows every service's current revision: `GET /api/v1/bandwidth`, with a token the agent holds
(the admin token on a single host). The agent may run on another host than the server, so it
never reads the platform database itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid, Unavailable
from dockyard.domain.instance import Platform
from dockyard.domain.spec import Bandwidth

LIMITS_PATH = "/api/v1/bandwidth"
TIMEOUT_S = 5.0


@dataclass(frozen=True)
class LimitKey:
    """One service in one environment: all its instances share their limits."""

    team: str
    service: str
    env: Environment


Limits = Mapping[LimitKey, Bandwidth]
"""The limits in force; a key missing means unlimited."""


class LimitsSource(Protocol):
    @property
    def platform(self) -> Platform | None:
        """The platform the limits are for, as the last answer named it: only its containers
        are shaped. None until an answer named one (every Dockyard container is shaped)."""
        ...

    def fetch(self) -> Limits:
        """Every limit in force now. Raises Unavailable when the answer cannot be had (server
        down, token refused, malformed answer): the caller must then not assume "unlimited"."""
        ...


class PlatformLimits:
    """Limits from the server's REST API."""

    def __init__(self, client: httpx.Client) -> None:
        """`client` carries the base URL and the Authorization header (see `connect`)."""
        self._client = client
        self.platform: Platform | None = None

    @classmethod
    def connect(cls, url: str, token: str) -> PlatformLimits:
        return cls(
            httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_S
            )
        )

    def close(self) -> None:
        self._client.close()

    def fetch(self) -> Limits:
        try:
            response = self._client.get(LIMITS_PATH)
        except httpx.HTTPError as exc:
            raise Unavailable(f"the Dockyard server does not answer: {exc}") from exc
        if response.status_code != 200:
            raise Unavailable(
                f"GET {LIMITS_PATH} answered {response.status_code}: {response.text[:200]}; "
                "check the agent's server URL and token"
            )
        try:
            answer = response.json()
            limits = parse_limits(answer)
            self.platform = parse_platform(answer) or self.platform
            return limits
        except (ValueError, KeyError, TypeError, Invalid) as exc:
            raise Unavailable(f"GET {LIMITS_PATH} answered malformed JSON: {exc}") from exc


def parse_limits(answer: dict[str, Any]) -> Limits:
    """The API's `{"items": [...]}` as a mapping; ValueError, KeyError, TypeError or Invalid
    if it is malformed."""
    return {
        LimitKey(item["team"], item["service"], Environment(item["env"])): Bandwidth(
            egress_mbit=item.get("egress_mbit"), ingress_mbit=item.get("ingress_mbit")
        )
        for item in answer["items"]
    }


def parse_platform(answer: dict[str, Any]) -> Platform | None:
    """The platform the answer names; None if it names none (a server older than platform
    labels, whose containers carry none)."""
    if "platform" not in answer:
        return None
    return Platform(str(answer["platform"]), adopts_unlabelled=bool(answer["adopts_unlabelled"]))


@dataclass
class FixedLimits:
    """An in-memory source for tests: `limits` as set, or Unavailable while `down`."""

    limits: dict[LimitKey, Bandwidth] = field(default_factory=dict)
    down: bool = False
    platform: Platform | None = None

    def fetch(self) -> Limits:
        if self.down:
            raise Unavailable("the fixed limits source is down")
        return dict(self.limits)
