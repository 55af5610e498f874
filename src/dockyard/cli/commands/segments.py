"""`segments`: the network segments IPAM hands addresses out of (create/delete: admin only)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dockyard.cli.client import api_path
from dockyard.cli.context import session
from dockyard.cli.options import Output
from dockyard.cli.output import Column, OutputFormat, print_fields, print_table, say, show

segments_app = typer.Typer(help="Network segments: CIDR, gateway, VLAN, environments, usage.")


def _usage(item: dict[str, Any]) -> str:
    usage = item.get("usage") or {}
    if "error" in usage:
        return f"unknown ({usage['error']})"
    used, free, reserved = (usage.get(key, 0) for key in ("used", "free", "reserved"))
    return f"{used} used / {free} free / {reserved} reserved"


COLUMNS = (
    Column("NAME", lambda s: s["name"]),
    Column("CIDR", lambda s: s["cidr"]),
    Column("GATEWAY", lambda s: s["gateway"]),
    Column("VLAN", lambda s: s.get("vlan")),
    Column("ENVIRONMENTS", lambda s: ",".join(s["environments"])),
    Column("USAGE", _usage),
)
ADDRESS_COLUMNS = (
    Column("ADDRESS", lambda a: a["address"]),
    Column("INSTANCE", lambda a: a.get("instance")),
    Column("CONTAINER", lambda a: (a.get("container") or "")[:12] or None),
    Column("HOST", lambda a: a.get("host")),
    Column(
        "SERVICE", lambda a: "/".join(x for x in (a.get("team"), a.get("service")) if x) or None
    ),
    Column("ENV", lambda a: a.get("env")),
    Column("SINCE", lambda a: a.get("since")),
)


@segments_app.command("list")
def list_segments(ctx: typer.Context, *, output: Output = OutputFormat.TABLE) -> None:
    """List segments with their usage (used / free / reserved addresses)."""
    answer = session(ctx).client().get("/segments")
    show(answer, output, lambda a: print_table(a["items"], COLUMNS, empty="no segments yet"))


@segments_app.command("create")
def create_segment(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument(help="1-12 lowercase letters, digits and '-'.")],
    cidr: Annotated[str, typer.Option("--cidr", help="e.g. 10.20.0.0/24")],
    env: Annotated[
        list[str],
        typer.Option(
            "--env",
            "-e",
            help="Environment served (repeat): test, stable (offline) or sandbox, online (online).",
        ),
    ],
    gateway: Annotated[
        str | None, typer.Option("--gateway", help="Default: first address.")
    ] = None,
    vlan: Annotated[
        int | None,
        typer.Option(
            "--vlan",
            help="802.1Q VLAN id (1-4094): each host puts the segment's bridge on the "
            "sub-interface UPLINK.ID of its DOCKYARD_UPLINK (needs a kernel with 802.1Q).",
        ),
    ] = None,
    reserved: Annotated[
        list[str] | None,
        typer.Option("--reserve", help="Never hand out: A.B.C.D, FIRST-LAST or CIDR (repeat)."),
    ] = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """Create a segment (admin).

    Several segments may serve one environment: new instances fill the oldest (or the one
    with their service's fixed addresses) and spill into the next when it is exhausted.
    """
    body: dict[str, Any] = {"name": name, "cidr": cidr, "environments": env}
    if gateway:
        body["gateway"] = gateway
    if vlan is not None:
        body["vlan"] = vlan
    if reserved:
        body["reserved"] = reserved
    created = session(ctx).client().post("/segments", body)
    show(
        created,
        output,
        lambda s: say(f"segment {s['name']} created: {s['cidr']} via {s['gateway']}"),
    )


@segments_app.command("show")
def show_segment(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument()],
    output: Output = OutputFormat.TABLE,
) -> None:
    """One segment: its configuration, usage, fixed addresses and (admin) held addresses."""
    answer = session(ctx).client().get(api_path("segments", name))

    def render(s: dict[str, Any]) -> None:
        print_fields(
            [
                ("name", s["name"]),
                ("cidr", s["cidr"]),
                ("gateway", s["gateway"]),
                ("vlan", s.get("vlan")),
                ("environments", ", ".join(s["environments"])),
                ("reserved", ", ".join(s["reserved"]) or None),
                ("bridge", s["bridge"]),
                ("usage", _usage(s)),
                (
                    "fixed",
                    ", ".join(
                        f"{f['address']} {f['team']}/{f['service']} {f['env']}"
                        for f in s.get("fixed", [])
                    )
                    or None,
                ),
            ]
        )
        if "addresses" in s:
            print_table(s["addresses"], ADDRESS_COLUMNS, empty="no addresses held")

    show(answer, output, render)


@segments_app.command("delete")
def delete_segment(ctx: typer.Context, *, name: Annotated[str, typer.Argument()]) -> None:
    """Delete a segment nothing holds or fixes an address in (admin)."""
    session(ctx).client().delete(api_path("segments", name))
    say(f"segment {name} deleted")


def register(app: typer.Typer) -> None:
    app.add_typer(segments_app, name="segments")
