"""`up`, `down`, `status` and `server`: the platform on this host."""

from __future__ import annotations

import typer

from dockyard.cli import platform
from dockyard.cli.balancer import ensure_balancer
from dockyard.cli.client import ApiClient
from dockyard.cli.context import Session, session
from dockyard.cli.health import check_parts
from dockyard.cli.logcenter import ensure_consumers
from dockyard.cli.monitoring import ensure_monitoring
from dockyard.cli.names import ensure_names
from dockyard.cli.nats import ensure_nats
from dockyard.cli.options import Output
from dockyard.cli.output import Column, OutputFormat, print_table, say, show
from dockyard.cli.registry import ensure_registry

STATUS_COLUMNS = (
    Column("PART", lambda p: p["part"]),
    Column("HEALTHY", lambda p: p["healthy"]),
    Column("DETAIL", lambda p: p["detail"]),
)


def _server_argv(current: Session) -> tuple[str, ...]:
    return current.env.server_argv or platform.SERVER_ARGV


def _probe(current: Session) -> ApiClient:
    return ApiClient(current.settings.listen.local_url, None, transport=current.env.transport)


def up(ctx: typer.Context) -> None:
    """Start the platform on this host (Docker engine if needed, then the server)."""
    current = session(ctx)
    settings = current.settings
    env = dict(current.env.environ)
    say(f"docker engine: {platform.ensure_engine(settings, env=env)}")
    say(f"registry: {ensure_registry(settings, env=env)}")
    say(f"etcd: {platform.ensure_etcd(settings, env=env)}")
    say(f"nats: {ensure_nats(settings, env=env)}")
    probe = _probe(current)
    try:
        started = platform.ensure_server(settings, probe=probe, env=env, argv=_server_argv(current))
    finally:
        probe.close()
    say(f"server: {started.message}")
    for line in ensure_consumers(settings, env=env, base=platform.dockyard_environment(env)):
        say(line)
    for line in ensure_names(settings, env=env, base=platform.dockyard_environment(env)):
        say(line)
    say(f"agent: {platform.ensure_agent(settings, env=env)}")
    say(f"balancer: {ensure_balancer(settings, env=env, base=platform.dockyard_environment(env))}")
    for line in ensure_monitoring(settings, env=env):
        say(line)
    say(f"portal: {settings.listen.local_url}/ui/")
    if started.admin_token:
        say(f"admin token (shown once; also stored in {settings.paths.credentials_file}):")
        typer.echo(started.admin_token)
        say("The dockyard CLI on this host is already logged in as admin.")


def down(ctx: typer.Context) -> None:
    """Stop what `dockyard up` started here (and nothing else)."""
    current = session(ctx)
    for line in platform.stop_platform(current.settings, server_argv=_server_argv(current)):
        say(line)


def status(ctx: typer.Context, *, output: Output = OutputFormat.TABLE) -> None:
    """Show each part of the platform on this host with its health; exit 1 if any is unwell."""
    current = session(ctx)
    probe = _probe(current)
    try:
        parts = check_parts(current.settings, probe=probe, server_argv=_server_argv(current))
    finally:
        probe.close()
    show(
        {"url": current.settings.listen.local_url, "parts": parts},
        output,
        lambda data: print_table(data["parts"], STATUS_COLUMNS, empty="nothing to show"),
    )
    if not all(part["healthy"] for part in parts):
        raise typer.Exit(1)


def server(ctx: typer.Context) -> None:
    """Run the server (API, portal, controllers) in the foreground; Ctrl-C stops it."""
    settings = session(ctx).settings
    # Imported here: only this command needs the whole server stack loaded.
    import uvicorn

    from dockyard.server import build_server, uvicorn_options

    uvicorn.run(build_server(settings), **uvicorn_options(settings))


def register(app: typer.Typer) -> None:
    for command in (up, down, status, server):
        app.command()(command)
