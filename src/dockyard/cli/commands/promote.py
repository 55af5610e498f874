"""`promote`, `approve`, `pipeline`, `promotion-policy` and `override`: moving one digest
test -> sandbox -> online, and each environment's own config."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dockyard.cli.commands.services import service_path
from dockyard.cli.context import session
from dockyard.cli.options import Env, Output, Team, Timeout, Wait, parse_pairs
from dockyard.cli.output import Column, OutputFormat, print_table, say, show, when
from dockyard.cli.progress import wait_for_rollout
from dockyard.domain.environment import Environment

Service = Annotated[str, typer.Argument(metavar="SVC", help="The service.")]

STAGE_COLUMNS = (
    Column("ENV", lambda s: s["env"]),
    Column("REVISION", lambda s: s.get("revision"), "right"),
    Column("DIGEST", lambda s: (s.get("digest") or "-")[:19]),
    Column("PHASE", lambda s: s.get("phase") or "-"),
    Column("AVAILABLE SINCE", lambda s: when(s.get("available_since"))),
    Column("NEXT", lambda s: s.get("next") or "-"),
    Column("GATES", lambda s: _gates(s.get("gates") or [])),
)
OVERRIDE_COLUMNS = (
    Column("ENV", lambda o: o["environment"]),
    Column("REPLICAS", lambda o: o.get("replicas"), "right"),
    Column("VARIABLES", lambda o: " ".join(f"{k}={v}" for k, v in (o.get("env") or {}).items())),
)


def _gates(gates: list[dict[str, Any]]) -> str:
    if not gates:
        return "-"
    failed = [g for g in gates if not g["passed"]]
    if not failed:
        return "all pass"
    return f"{failed[0]['name']}: {failed[0]['detail']}"


def promote(
    ctx: typer.Context,
    *,
    service: Service,
    source: Annotated[Environment, typer.Option("--from", help="Take the digest running here.")],
    target: Annotated[Environment, typer.Option("--to", help="Release it here.")],
    team: Team = None,
    wait: Wait = True,
    timeout: Timeout = 600.0,
) -> None:
    """Release the digest SOURCE runs into TARGET (gates permitting), never rebuilt."""
    current = session(ctx)
    path = service_path(current, team, service, "promotions")
    release = current.client().post(path, {"from": source.value, "to": target.value})
    say(
        f"revision {release['number']} of {service} in {release['env']}: {release['image']} "
        f"x {release['replicas']} ({release['cause']})"
    )
    if wait:
        wait_for_rollout(
            current.client(),
            service_path(current, team, service, "envs", target.value),
            revision=int(release["number"]),
            env=current.env,
            timeout_s=timeout,
            follow_hint=f"dockyard instances {service} --env {target.value}",
        )


def approve(
    ctx: typer.Context,
    *,
    service: Service,
    digest: Annotated[
        str | None, typer.Option("--digest", help="Default: the digest sandbox runs now.")
    ] = None,
    team: Team = None,
) -> None:
    """Approve a digest of SVC for online (someone else then promotes it)."""
    current = session(ctx)
    body = {"digest": digest} if digest else {}
    answer = current.client().post(service_path(current, team, service, "approvals"), body)
    say(f"{answer['approved_by']} approved {answer['digest']} for online")


def pipeline(
    ctx: typer.Context, *, service: Service, team: Team = None, output: Output = OutputFormat.TABLE
) -> None:
    """Show what each environment runs and whether it may move to the next."""
    current = session(ctx)
    answer = current.client().get(service_path(current, team, service, "promotion"))
    show(answer, output, lambda a: print_table(a["stages"], STAGE_COLUMNS, empty="-"))


def promotion_policy(
    ctx: typer.Context,
    *,
    service: Service,
    soak: Annotated[
        float | None,
        typer.Option("--soak", min=0, help="Seconds healthy in test before sandbox takes it."),
    ] = None,
    approval: Annotated[
        bool | None,
        typer.Option("--approval/--no-approval", help="Online needs another member's approval."),
    ] = None,
    stable_follows: Annotated[
        str | None,
        typer.Option("--stable-follows", help="test, sandbox, online, or none."),
    ] = None,
    team: Team = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """Set SVC's gates and what its stable follows (unset options keep their value)."""
    current = session(ctx)
    now = current.client().get(service_path(current, team, service, "promotion"))["policy"]
    body = dict(now)
    if soak is not None:
        body["soak_s"] = soak
    if approval is not None:
        body["online_approval"] = approval
    if stable_follows is not None:
        body["stable_follows"] = None if stable_follows == "none" else stable_follows
    answer = current.client().put(service_path(current, team, service, "promotion", "policy"), body)
    show(
        answer,
        output,
        lambda p: say(
            f"soak {p['soak_s']:g} s, online approval {'on' if p['online_approval'] else 'off'}, "
            f"stable follows {p['stable_follows'] or 'nothing'}"
        ),
    )


def override(
    ctx: typer.Context,
    *,
    service: Service,
    env: Env,
    replicas: Annotated[int | None, typer.Option("--replicas", min=0)] = None,
    set_env: Annotated[
        list[str] | None, typer.Option("--set", help="Variable KEY=VALUE for ENV (repeat).")
    ] = None,
    team: Team = None,
) -> None:
    """Set ENV's own config for SVC (replaces it); the next image released there takes it."""
    current = session(ctx)
    body: dict[str, Any] = {"replicas": replicas, "env": parse_pairs(set_env, option="--set")}
    path = service_path(current, team, service, "envs", env.value, "overrides")
    answer = current.client().put(path, body)
    print_table([answer], OVERRIDE_COLUMNS, empty="-")


def overrides(
    ctx: typer.Context, *, service: Service, team: Team = None, output: Output = OutputFormat.TABLE
) -> None:
    """Show each environment's own config for SVC."""
    current = session(ctx)
    answer = current.client().get(service_path(current, team, service, "overrides"))
    show(answer, output, lambda a: print_table(a["items"], OVERRIDE_COLUMNS, empty="-"))


def register(app: typer.Typer) -> None:
    for command in (promote, approve, pipeline, override, overrides):
        app.command()(command)
    app.command("promotion-policy")(promotion_policy)
