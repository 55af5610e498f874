"""`balancer`: this host's load balancer, HAProxy fed by the endpoint feed, in the foreground
(`dockyard up` starts it as a program of the host's supervisor; cli/balancer.py)."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Annotated

import typer

from dockyard.cli.balancer import balancer_dir, find_haproxy
from dockyard.cli.context import session
from dockyard.cli.errors import CliError
from dockyard.discovery.balancer import Balancer, BalancerEnded
from dockyard.discovery.balancer_config import Listeners
from dockyard.discovery.balancer_layout import Shape
from dockyard.discovery.feed import Feed
from dockyard.discovery.haproxy import Haproxy, HaproxyFiles
from dockyard.settings import Settings

log = logging.getLogger("dockyard.balancer")


def balancer(
    ctx: typer.Context,
    *,
    haproxy: Annotated[
        str, typer.Option("--haproxy", help="The HAProxy binary (Debian's haproxy 2.6 or later).")
    ] = "haproxy",
) -> None:
    """Route SERVICE.TEAM.ENV.<domain> and TCP ports to ready instances, in the foreground."""
    current = session(ctx)
    settings = current.settings
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.root.level))
    binary = find_haproxy(haproxy)
    if binary is None:
        raise CliError(f"{haproxy} is not installed: apt-get install haproxy")
    url, token = current.login()
    if token is None:
        raise CliError(
            "the balancer needs the admin's token: run it on the server's host, "
            "or set DOCKYARD_TOKEN"
        )
    files = HaproxyFiles(balancer_dir(settings))
    found = Balancer(
        Haproxy(files, binary=binary), shape=shape(settings), listeners=listeners(settings)
    )
    log.info("balancer starting: HTTP on %s, feed from %s", settings.balancer.http_addr, url)
    try:
        asyncio.run(_serve(found, Feed(url, token)))
    except BalancerEnded as exc:
        log.error("balancer exiting with status 1: %s", exc)
        raise typer.Exit(1) from exc


async def _serve(found: Balancer, feed: Feed) -> None:
    """Run until told to stop (SIGTERM, SIGINT): HAProxy is stopped with it either way."""
    task = asyncio.current_task()
    assert task is not None
    stopped: list[str] = []

    def stop(signum: signal.Signals) -> None:
        stopped.append(signum.name)
        task.cancel()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop, signum)
    try:
        await found.run(feed.follow())
    except asyncio.CancelledError:
        if not stopped:
            raise
        log.info("balancer exiting: %s", stopped[0])


def shape(settings: Settings) -> Shape:
    own = settings.balancer
    return Shape(domain=own.domain, tcp_ports=own.tcp_ports, drain_s=own.drain_s)


def listeners(settings: Settings) -> Listeners:
    own = settings.balancer
    host = own.http_addr.rpartition(":")[0]
    return Listeners(http=own.http_addr, metrics=own.metrics_addr, tcp_host=host)


def register(app: typer.Typer) -> None:
    app.command()(balancer)
