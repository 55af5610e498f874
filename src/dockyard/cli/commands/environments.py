"""`environments list|set`: each environment's default limits (setting them: admin only), and
the wording every command uses for the limits an instance gets and where they come from."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dockyard.cli.client import api_path
from dockyard.cli.context import session
from dockyard.cli.options import Output
from dockyard.cli.output import Column, OutputFormat, print_table, say, show, when
from dockyard.domain.environment import Environment

environments_app = typer.Typer(
    help="Environments and their default limits per instance (set: admin).",
    no_args_is_help=True,
)

UNITS = (("cpus", "cpus"), ("memory_mb", "MiB"), ("pids", "pids"))

COLUMNS = (
    Column("ENV", lambda e: e["env"]),
    Column("NETWORK", lambda e: e.get("network")),
    Column("CPUS", lambda e: e["defaults"]["cpus"], "right"),
    Column("MEMORY MB", lambda e: e["defaults"]["memory_mb"], "right"),
    Column("PIDS", lambda e: e["defaults"]["pids"], "right"),
    Column("SET BY", lambda e: e.get("updated_by")),
    Column("SET", lambda e: when(e.get("updated_at"))),
)


def limits_text(resources: dict[str, Any], sources: dict[str, Any], env: str) -> str:
    """`0.5 cpus (test default), 1024 MiB (own), 512 pids (test default)`: what each instance
    of a revision gets, and whether the service or the environment chose it."""
    parts = []
    for name, unit in UNITS:
        value = resources.get(name)
        source = "own" if sources.get(name, "service") == "service" else f"{env} default"
        parts.append(f"{'-' if value is None else format(value, 'g')} {unit} ({source})")
    return ", ".join(parts)


def template_limits_text(resources: dict[str, Any]) -> str:
    """`2 cpus, memory and pids: the environment's default`: a template's own limits."""
    own = [f"{resources[name]:g} {unit}" for name, unit in UNITS if resources.get(name) is not None]
    left = [name.removesuffix("_mb") for name, _ in UNITS if resources.get(name) is None]
    if left:
        own.append(f"{' and '.join(left)}: the environment's default")
    return ", ".join(own)


def defaults_text(environment: dict[str, Any]) -> str:
    limits = environment["defaults"]
    return ", ".join(f"{limits[name]:g} {unit}" for name, unit in UNITS)


@environments_app.command("list")
def list_environments(ctx: typer.Context, *, output: Output = OutputFormat.TABLE) -> None:
    """List the environments with the limits each instance gets when its service sets none."""
    answer = session(ctx).client().get("/environments")
    show(answer, output, lambda a: print_table(a["items"], COLUMNS, empty="no environments"))


@environments_app.command("set")
def set_defaults(
    ctx: typer.Context,
    *,
    env: Annotated[Environment, typer.Argument(metavar="ENV", help="The environment.")],
    cpus: Annotated[float | None, typer.Option("--cpus", help="CPU cores per instance.")] = None,
    memory_mb: Annotated[
        int | None, typer.Option("--memory-mb", help="Memory per instance in MiB.")
    ] = None,
    pids: Annotated[
        int | None, typer.Option("--pids", help="Processes (and threads) per instance.")
    ] = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """Set ENV's default limits (admin); services that set none get them at their next
    deploy to ENV, and nothing restarts before that."""
    body = {"cpus": cpus, "memory_mb": memory_mb, "pids": pids}
    sent = {name: value for name, value in body.items() if value is not None}
    if not sent:
        raise typer.BadParameter("nothing to change: give --cpus, --memory-mb or --pids")
    answer = session(ctx).client().patch(api_path("environments", env.value), sent)
    show(
        answer,
        output,
        lambda e: say(
            f"{e['env']} defaults: {defaults_text(e)} per instance; services that set none "
            f"get them at their next deploy to {e['env']}"
        ),
    )


def register(app: typer.Typer) -> None:
    app.add_typer(environments_app, name="environments")
