"""`names`: PowerDNS's remote backend for service names, following the endpoint feed
(discovery/name_server.py), in the foreground; `dockyard up` starts and supervises it."""

from __future__ import annotations

import asyncio
import logging

import typer

from dockyard.cli.context import session
from dockyard.cli.names import dns_layout
from dockyard.cli.own_program import ready_file, say_ready
from dockyard.domain.errors import DockyardError
from dockyard.settings import Settings, read_credentials

log = logging.getLogger("dockyard.discovery.names")


def names(ctx: typer.Context) -> None:
    """Answer PowerDNS for service names from the server's endpoint feed (`dockyard up` runs
    it with PowerDNS and dnsmasq). Reads the admin token of this host's credentials file."""
    settings = session(ctx).settings
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    from dockyard.agent.main import PartEnded

    log.info("names starting: zone %s, feed %s", settings.names.zone, settings.listen.local_url)
    try:
        asyncio.run(_serve(settings))
    except PartEnded as exc:  # logged with its traceback where it ended
        log.error("names exiting with status 1: %s", exc)
        raise typer.Exit(1) from exc
    finally:
        ready_file(settings, "names").unlink(missing_ok=True)


def _token(settings: Settings) -> str | None:
    """DOCKYARD_TOKEN, else the admin token the server stored at its first start (read again
    at each connection: the server may write it after this process started)."""
    if settings.client.token:
        return settings.client.token
    try:
        credentials = read_credentials(settings.paths.credentials_file)
    except DockyardError as exc:
        log.warning("%s", exc.message)
        return None
    return credentials.token if credentials else None


async def _serve(settings: Settings) -> None:
    from dockyard.agent.main import run_parts
    from dockyard.discovery.feed import Feed
    from dockyard.discovery.name_server import NameServer
    from dockyard.discovery.names import Zone

    server = NameServer(
        Feed(settings.listen.local_url, lambda: _token(settings)),
        zone=Zone(settings.names.zone, settings.names.ttl_s),
        layout=dns_layout(settings),
    )

    async def once_serving() -> None:
        await server.serving.wait()
        say_ready(ready_file(settings, "names"))
        await asyncio.Event().wait()  # a part runs until the process stops

    await run_parts({"names": server.run(), "ready": once_serving()}, process="names")


def register(app: typer.Typer) -> None:
    app.command()(names)
