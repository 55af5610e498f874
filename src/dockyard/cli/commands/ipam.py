"""`ipam`: fixed addresses, held addresses, history, hosts, check for leaks, release by hand."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dockyard.cli.client import api_path
from dockyard.cli.commands.segments import ADDRESS_COLUMNS
from dockyard.cli.context import session
from dockyard.cli.options import Output
from dockyard.cli.output import Column, OutputFormat, print_table, say, show, when

ipam_app = typer.Typer(help="IP addresses: fixed ones, who holds which, history, hosts, leaks.")
fixed_app = typer.Typer(help="Addresses a service keeps for itself in one environment.")
ipam_app.add_typer(fixed_app, name="fixed")

FIXED_COLUMNS = (
    Column("ADDRESS", lambda f: f["address"]),
    Column("SEGMENT", lambda f: f["segment"]),
    Column("SERVICE", lambda f: f"{f['team']}/{f['service']}"),
    Column("ENV", lambda f: f["env"]),
)
HISTORY_COLUMNS = (
    Column("ADDRESS", lambda h: h["address"]),
    Column("SEGMENT", lambda h: h["segment"]),
    Column("INSTANCE", lambda h: h.get("instance")),
    Column("CONTAINER", lambda h: (h.get("container") or "")[:12] or None),
    Column("HOST", lambda h: h.get("host")),
    Column("FROM", lambda h: when(h.get("from"))),
    Column("TO", lambda h: when(h.get("to")) if h.get("to") else "now"),
    Column("ENDED BY", lambda h: h["reason"]),
    Column("WHY", lambda h: h.get("detail")),
)
CHECK_COLUMNS = (
    Column("KIND", lambda f: f["kind"]),
    Column("ADDRESS", lambda f: f["address"]),
    Column("SEGMENT", lambda f: f.get("segment")),
    Column("ETCD SAYS", lambda f: f["etcd"]),
    Column("RUNTIME SAYS", lambda f: f["runtime"]),
)
HOST_COLUMNS = (
    Column("HOST", lambda h: h["host"]),
    Column("ALIVE", lambda h: "yes" if h["alive"] else "NO"),
    Column("VERSION", lambda h: h.get("version")),
    Column("REGISTERED", lambda h: when(h.get("registered")) if h.get("registered") else "never"),
    Column("ABSENT SINCE", lambda h: when(h.get("absent_since"))),
    Column("ADDRESSES", lambda h: str(h["addresses"])),
)


@fixed_app.command("list")
def list_fixed(
    ctx: typer.Context,
    *,
    team: Annotated[str | None, typer.Option("--team", "-t")] = None,
    service: Annotated[str | None, typer.Option("--service", "-s")] = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """List fixed addresses (a team token sees its own)."""
    params = {k: v for k, v in (("team", team), ("service", service)) if v}
    answer = session(ctx).client().get("/ipam/fixed", params=params)
    show(answer, output, lambda a: print_table(a["items"], FIXED_COLUMNS, empty="none fixed"))


@fixed_app.command("add")
def add_fixed(
    ctx: typer.Context,
    *,
    address: Annotated[str, typer.Argument()],
    service: Annotated[str, typer.Option("--service", "-s")],
    team: Annotated[str, typer.Option("--team", "-t")],
    env: Annotated[str, typer.Option("--env", "-e")],
    output: Output = OutputFormat.TABLE,
) -> None:
    """Keep ADDRESS for a service in one environment (admin)."""
    body = {"team": team, "service": service, "env": env, "address": address}
    item = session(ctx).client().post("/ipam/fixed", body)
    show(item, output, lambda f: say(f"{f['address']} is fixed for {team}/{service} in {env}"))


@fixed_app.command("remove")
def remove_fixed(ctx: typer.Context, *, address: Annotated[str, typer.Argument()]) -> None:
    """Stop keeping ADDRESS for its service (admin)."""
    session(ctx).client().delete(api_path("ipam", "fixed", address))
    say(f"{address} is no longer fixed")


@ipam_app.command("addresses")
def list_addresses(
    ctx: typer.Context,
    *,
    segment: Annotated[str | None, typer.Option("--segment")] = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """Addresses held now and by whom (admin)."""
    answer = (
        session(ctx)
        .client()
        .get("/ipam/addresses", params={"segment": segment} if segment else None)
    )
    columns = (Column("SEGMENT", lambda a: a["segment"]), *ADDRESS_COLUMNS)
    show(answer, output, lambda a: print_table(a["items"], columns, empty="no addresses held"))


@ipam_app.command("history")
def history(
    ctx: typer.Context,
    *,
    address: Annotated[str | None, typer.Option("--address", "-a")] = None,
    instance: Annotated[
        str | None, typer.Option("--instance", "-i", help="Or a container id.")
    ] = None,
    segment: Annotated[str | None, typer.Option("--segment")] = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """Who held an address, or which addresses an instance held, from when to when."""
    if (address is None) == (instance is None):
        raise typer.BadParameter("give exactly one of --address or --instance")
    params: dict[str, Any] = {"address": address} if address else {"instance": instance}
    if segment:
        params["segment"] = segment
    answer = session(ctx).client().get("/ipam/history", params=params)
    show(answer, output, lambda a: print_table(a["items"], HISTORY_COLUMNS, empty="no history"))


@ipam_app.command("check")
def check(ctx: typer.Context, *, output: Output = OutputFormat.TABLE) -> None:
    """Compare etcd with the instances the runtime reports now (admin); exit 1 on any leak or
    mismatch. Fails (503) rather than answer "clean" when the runtime cannot be read."""
    answer = session(ctx).client().get("/ipam/check")

    def render(a: dict[str, Any]) -> None:
        say(f"{a['held']} addresses held in etcd, {a['instances']} instances in the runtime")
        print_table(a["findings"], CHECK_COLUMNS, empty="no leaks, no mismatches")

    show(answer, output, render)
    if answer["findings"]:
        raise typer.Exit(1)


@ipam_app.command("hosts")
def hosts(ctx: typer.Context, *, output: Output = OutputFormat.TABLE) -> None:
    """Hosts holding addresses (admin): is each one's agent alive, since when is it absent?

    A host absent for DOCKYARD_IPAM_HOST_GRACE_S loses its addresses to the other agents'
    collectors; one that never registered (an older agent) never does."""
    answer = session(ctx).client().get("/ipam/hosts")
    show(answer, output, lambda a: print_table(a["items"], HOST_COLUMNS, empty="no hosts"))


@ipam_app.command("release")
def release(
    ctx: typer.Context,
    *,
    address: Annotated[str, typer.Argument()],
    segment: Annotated[str, typer.Option("--segment", help="The segment holding ADDRESS.")],
) -> None:
    """Free one held address by hand (admin); recorded in its history."""
    lease = (
        session(ctx).client().post(api_path("ipam", "addresses", segment, address, "release"), {})
    )
    say(f"{address} released (held by {lease.get('instance') or lease.get('container') or '?'})")


def register(app: typer.Typer) -> None:
    app.add_typer(ipam_app, name="ipam")
