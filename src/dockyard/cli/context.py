"""What one CLI invocation works with: its surroundings, settings, login and API client.

`CliEnv` is everything taken from outside the process (environment, network transport, clock);
tests hand their own to `CliRunner.invoke(app, ..., obj=CliEnv(...))`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import typer

from dockyard.cli.client import ApiClient
from dockyard.cli.errors import CliError
from dockyard.settings import ClientCredentials, Settings, read_credentials


@dataclass(frozen=True)
class CliEnv:
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    transport: httpx.BaseTransport | None = None
    """None: real network. Tests pass an httpx.MockTransport."""
    poll_interval_s: float = 0.5
    """How often `deploy`/`scale`/`rollback` look at the rollout while waiting."""
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    uid: int | None = None
    """Whose defaults apply (root or not); None: this process's effective uid."""
    server_argv: tuple[str, ...] | None = None
    """How `dockyard up` starts the server; None: `python -m dockyard.cli server`."""


def resolve_login(
    *, url: str | None, token: str | None, stored: list[ClientCredentials], default_url: str
) -> tuple[str, str | None]:
    """The URL and token to use: explicit values first, then the first stored login.

    `stored` is in order of preference (the user's `dockyard login`, then the host's local
    credentials). With an explicit URL, only a stored login for that same URL lends its token:
    a token is never sent to a server it was not issued for.
    """
    if url is None:
        chosen = stored[0] if stored else None
        url = chosen.url if chosen else default_url
    else:
        chosen = next((c for c in stored if c.url == url.rstrip("/")), None)
    return url.rstrip("/"), token or (chosen.token if chosen else None)


class Session:
    """One invocation's settings and (lazily) its API client and caller identity."""

    def __init__(self, env: CliEnv, *, url: str | None, token: str | None) -> None:
        self.env = env
        self._url = url
        self._token = token
        self._settings: Settings | None = None
        self._client: ApiClient | None = None
        self._whoami: dict[str, Any] | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env(self.env.environ, uid=self.env.uid)
        return self._settings

    def login(self) -> tuple[str, str | None]:
        client = self.settings.client
        stored = [
            found
            for found in (
                read_credentials(client.config_file),
                read_credentials(self.settings.paths.credentials_file),
            )
            if found is not None
        ]
        return resolve_login(
            url=self._url or client.url,
            token=self._token or client.token,
            stored=stored,
            default_url=self.settings.listen.local_url,
        )

    def client(self) -> ApiClient:
        if self._client is None:
            url, token = self.login()
            self._client = ApiClient(url, token, transport=self.env.transport)
        return self._client

    def whoami(self) -> dict[str, Any]:
        if self._whoami is None:
            self._whoami = self.client().get("/whoami")
        return self._whoami

    def team(self, team: str | None) -> str:
        """`team` if given, else the caller's own team; the admin must name one."""
        if team:
            return team
        own = self.whoami().get("team")
        if not own:
            raise CliError("you are the admin, who belongs to no team: name one with --team TEAM")
        return str(own)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def session(ctx: typer.Context) -> Session:
    """The Session the root command stored for this invocation."""
    found = ctx.find_object(Session)
    if found is None:  # only if a command is invoked without the root group
        raise CliError("internal error: no CLI session; run commands through `dockyard`")
    return found
