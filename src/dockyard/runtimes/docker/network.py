"""The user-defined bridge network every Dockyard container joins. Blocking; run in a thread."""

from __future__ import annotations

import threading

import docker
from docker.errors import APIError, NotFound

from dockyard.domain.instance import LABEL_MANAGED

HTTP_CONFLICT = 409


class BridgeNetwork:
    """Creates the named bridge network once per process, tolerating others creating it too."""

    def __init__(self, name: str, *, labels: dict[str, str] | None = None) -> None:
        """`labels` are added to Dockyard's own on the network it creates (its platform)."""
        self.name = name
        self._labels = {LABEL_MANAGED: "true", **(labels or {})}
        self._ready = False
        self._lock = threading.Lock()

    def ensure(self, client: docker.APIClient) -> None:
        """Return once the network exists. Idempotent; safe from many threads and processes."""
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                _create_if_missing(client, self.name, labels=self._labels)
                self._ready = True

    def forget(self) -> None:
        """Check again next time: the network was removed behind our back."""
        self._ready = False


def _create_if_missing(client: docker.APIClient, name: str, *, labels: dict[str, str]) -> None:
    try:
        # Inspect by exact name: the list endpoint's name filter matches substrings.
        client.inspect_network(name)
        return
    except NotFound:
        pass
    try:
        client.create_network(name, driver="bridge", check_duplicate=True, labels=labels)
    except APIError as exc:
        # Another process created it between our inspect and create: that is success.
        if exc.status_code != HTTP_CONFLICT:
            raise
