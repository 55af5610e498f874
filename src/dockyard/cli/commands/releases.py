"""`deploy`, `scale`, `rollback` (each a new revision, followed as it rolls out), `history`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dockyard.cli.commands.environments import limits_text
from dockyard.cli.commands.services import readiness_line, service_path
from dockyard.cli.context import session
from dockyard.cli.options import Env, Output, Team, Timeout, Wait, parse_pairs
from dockyard.cli.output import Column, OutputFormat, print_table, say, show, when
from dockyard.cli.progress import wait_for_rollout
from dockyard.domain.environment import Environment

Service = Annotated[str, typer.Argument(metavar="SVC", help="The service.")]
ExpectedRevision = Annotated[
    int | None,
    typer.Option(
        "--expected-revision", help="Refuse (409) unless this is still the newest revision."
    ),
]

COLUMNS = (
    Column("REVISION", lambda r: r["number"], "right"),
    Column("IMAGE", lambda r: r.get("image")),
    Column("REPLICAS", lambda r: r.get("replicas"), "right"),
    Column("CAUSE", lambda r: r.get("cause")),
    Column("BY", lambda r: r.get("created_by")),
    Column("CREATED", lambda r: when(r.get("created_at"))),
    Column("TEMPLATE", lambda r: r.get("template_hash")),
)


def _release(
    ctx: typer.Context,
    *,
    service: str,
    env: Environment,
    team: str | None,
    verb: str,
    body: dict[str, Any],
    wait: bool,
    timeout: float,
) -> None:
    """POST `verb` for (service, env) with `body` (None values left out: the server keeps its
    own), report the new revision, and follow it if asked."""
    current = session(ctx)
    env_path = service_path(current, team, service, "envs", env.value)
    sent = {name: value for name, value in body.items() if value is not None}
    release = current.client().post(f"{env_path}/{verb}", sent)
    say(
        f"revision {release['number']} of {release['service']} in {release['env']}: "
        f"{release.get('image')} x {release.get('replicas')} ({release.get('cause')})"
    )
    resources = (release.get("spec") or {}).get("resources") or {}
    sources = release.get("resources_from") or {}
    say(f"each instance: {limits_text(resources, sources, release['env'])}")
    say(readiness_line(release))
    if wait:
        wait_for_rollout(
            current.client(),
            env_path,
            revision=int(release["number"]),
            env=current.env,
            timeout_s=timeout,
            follow_hint=f"dockyard instances {service} --env {env.value}",
        )


def deploy(
    ctx: typer.Context,
    *,
    service: Service,
    env: Env,
    image: Annotated[str | None, typer.Option("--image", "-i", help="Image to run.")] = None,
    replicas: Annotated[int | None, typer.Option("--replicas", "-r", min=0)] = None,
    set_env: Annotated[
        list[str] | None,
        typer.Option("--set", help="Environment variable KEY=VALUE for this release (repeat)."),
    ] = None,
    team: Team = None,
    expected_revision: ExpectedRevision = None,
    wait: Wait = True,
    timeout: Timeout = 600.0,
) -> None:
    """Release the service's template (with a new image, replicas or variables) to ENV."""
    pairs = parse_pairs(set_env, option="--set") if set_env else None
    _release(
        ctx, service=service, env=env, team=team, verb="deploy", wait=wait, timeout=timeout,
        body={
            "image": image, "replicas": replicas, "env": pairs,
            "expected_revision": expected_revision,
        },
    )  # fmt: skip


def scale(
    ctx: typer.Context,
    *,
    service: Service,
    replicas: Annotated[int, typer.Argument(metavar="N", min=0, help="Instances wanted.")],
    env: Env,
    team: Team = None,
    expected_revision: ExpectedRevision = None,
    wait: Wait = True,
    timeout: Timeout = 600.0,
) -> None:
    """Run N instances of the current revision in ENV (no restart of those kept)."""
    _release(
        ctx, service=service, env=env, team=team, verb="scale", wait=wait, timeout=timeout,
        body={"replicas": replicas, "expected_revision": expected_revision},
    )  # fmt: skip


def rollback(
    ctx: typer.Context,
    *,
    service: Service,
    env: Env,
    to: Annotated[
        int | None, typer.Option("--to", min=1, help="Revision to restore; default: the previous.")
    ] = None,
    team: Team = None,
    expected_revision: ExpectedRevision = None,
    wait: Wait = True,
    timeout: Timeout = 600.0,
) -> None:
    """Re-apply an earlier revision (image and config together) as a new revision."""
    _release(
        ctx, service=service, env=env, team=team, verb="rollback", wait=wait, timeout=timeout,
        body={"to": to, "expected_revision": expected_revision},
    )  # fmt: skip


def history(
    ctx: typer.Context,
    *,
    service: Service,
    env: Env,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    team: Team = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """List the revisions of the service in ENV, newest first."""
    current = session(ctx)
    path = service_path(current, team, service, "envs", env.value, "revisions")
    answer = current.client().get(path, params={"limit": limit})
    show(answer, output, lambda a: print_table(a["items"], COLUMNS, empty="no revisions yet"))


def register(app: typer.Typer) -> None:
    for command in (deploy, scale, rollback, history):
        app.command()(command)
