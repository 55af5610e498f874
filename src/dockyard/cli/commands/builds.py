"""`source set|show`, `build` (followed live), `builds` and `build-log`: images from a commit."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer
from rich.console import Console

from dockyard.cli.client import ApiClient
from dockyard.cli.commands.services import service_path
from dockyard.cli.context import CliEnv, session
from dockyard.cli.errors import CliError
from dockyard.cli.options import Output, Team
from dockyard.cli.output import Column, OutputFormat, console, print_fields, print_table, say, show
from dockyard.cli.output import when as when_text
from dockyard.domain.environment import Environment

source_app = typer.Typer(help="Where a service's images are built from.", no_args_is_help=True)

Service = Annotated[str, typer.Argument(metavar="SVC", help="The service.")]
LOG_WAIT_S = 5  # below the client's timeout: each poll returns before it
# A step as the classic builder logs it ("Step 2/3 : COPY ...") and as BuildKit's progress
# reads in the log ("#5 [2/3] COPY ...", "#5 [build 2/3] ..." in a multi-stage build).
_STEP = re.compile(r"^(?:Step (\d+)/(\d+) : |#\d+ \[(?:\S+ )?(\d+)/(\d+)\] )(.*)$")

COLUMNS = (
    Column("BUILD", lambda b: b["number"], "right"),
    Column("REF", lambda b: b.get("ref")),
    Column("COMMIT", lambda b: (b.get("commit") or "")[:12] or "-"),
    Column("STATE", lambda b: b.get("state")),
    Column("IMAGE", lambda b: (b.get("image") or {}).get("digest", "-")[:19]),
    Column("BY", lambda b: b.get("requested_by")),
    Column("REQUESTED", lambda b: when_text(b.get("requested_at"))),
    Column("SECONDS", lambda b: _seconds(b.get("duration_s")), "right"),
    Column("REASON", lambda b: (b.get("reason") or "").split("\n")[0]),
)


def _seconds(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else "-"


@source_app.command("set")
def set_source(
    ctx: typer.Context,
    *,
    service: Service,
    repo: Annotated[
        str | None, typer.Option("--repo", help="git URL: file://, http:// or https://")
    ] = None,
    hosted: Annotated[
        bool,
        typer.Option("--hosted", help="Build from SVC's git remote on Dockyard (git push)."),
    ] = False,
    branch: Annotated[str, typer.Option("--branch", help="Branch built by default.")] = "main",
    dockerfile: Annotated[
        str, typer.Option("--dockerfile", help="Dockerfile, relative to the context.")
    ] = "Dockerfile",
    context: Annotated[
        str, typer.Option("--context", help="Build context directory in the repository.")
    ] = ".",
    team: Team = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """Build SVC's images from a git repository (--repo URL), or from the git remote Dockyard
    hosts for it (--hosted: pushes to the branch then build and deploy to test)."""
    if bool(repo) == hosted:
        raise CliError("give either --repo URL or --hosted")
    current = session(ctx)
    body = {"branch": branch, "dockerfile": dockerfile, "context": context}
    if hosted:
        path = service_path(current, team, service, "source", "hosted")
    else:
        path, body["repo_url"] = service_path(current, team, service, "source"), str(repo)
    answer = current.client().put(path, body)
    show(answer, output, lambda s: say(f"{service} builds from {s['repo_url']} ({s['branch']})"))


@source_app.command("show")
def show_source(
    ctx: typer.Context, *, service: Service, team: Team = None, output: Output = OutputFormat.TABLE
) -> None:
    """Show where SVC's images are built from, and SVC's git remote on Dockyard."""
    current = session(ctx)
    answer = current.client().get(service_path(current, team, service, "git"))
    show(answer, output, lambda remote: _print_remote(service, remote))


def _print_remote(service: str, remote: dict[str, Any]) -> None:
    source = remote.get("source")
    if source:
        print_fields([(k, source[k]) for k in source] + [("git remote", remote["url"])])
    else:
        print_fields(
            [("repo_url", "(none yet: the first push sets it)"), ("git remote", remote["url"])]
        )
    say(f"git remote add dockyard {remote['url']}")
    if remote.get("builds_on_push"):
        say(f"git push dockyard {remote['branch']}   # builds, then deploys to test")
    else:
        say(f"pushes are stored only; `dockyard source set {service} --hosted` builds them")
    say("git asks for a password: give a team token (any user name)")


def build(
    ctx: typer.Context,
    *,
    service: Service,
    ref: Annotated[
        str | None, typer.Option("--ref", help="Branch, tag or commit (default: the branch).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Build even if this commit was built already.")
    ] = False,
    deploy: Annotated[
        Environment | None, typer.Option("--deploy", help="Release the image there once built.")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow/--no-follow", help="Show the build log live until it ends.")
    ] = True,
    team: Team = None,
) -> None:
    """Build an image of SVC from a commit and push it; exit 1 if the build fails."""
    current = session(ctx)
    path = service_path(current, team, service, "builds")
    body: dict[str, Any] = {"force": force}
    if ref:
        body["ref"] = ref
    if deploy is not None:
        body["deploy_to"] = deploy.value
    queued = current.client().post(path, body)
    number = int(queued["number"])
    say(f"build {number} of {service} queued ({queued['ref']})")
    if not follow:
        return
    hint = f"dockyard build-log {service} {number} --follow"
    done = follow_build(current.client(), f"{path}/{number}", env=current.env, hint=hint)
    _conclude(done)


def follow_build(client: ApiClient, path: str, *, env: CliEnv, hint: str) -> dict[str, Any]:
    """Print the build's log as it grows (with a spinner on a terminal); the finished build."""
    out = console()
    offset = 0
    stage = "waiting for the builder"
    status = out.status(stage) if out.is_terminal else None
    if status is not None:
        status.start()
    try:
        while True:
            page = client.get(f"{path}/log", params={"after": offset, "wait": LOG_WAIT_S})
            offset = int(page["next"])
            if page["text"]:
                stage = _print_log(out, page["text"], stage)
                if status is not None:
                    status.update(stage)
            if page["done"]:  # the page that ends the log carries the finished build
                return dict(page.get("build") or client.get(path))
            if not page["text"]:
                env.sleep(0.2)  # the server held the request up to LOG_WAIT_S already
    except KeyboardInterrupt:
        raise CliError(
            f"stopped following; the build goes on: follow it again with `{hint}`",
            exit_code=130,
        ) from None
    finally:
        if status is not None:
            status.stop()


def _print_log(out: Console, text: str, stage: str) -> str:
    """Print log text as it came; the stage to show next to the spinner."""
    out.print(text, end="", markup=False, highlight=False, soft_wrap=True)
    return spinner_stage(text, stage)


def spinner_stage(text: str, stage: str) -> str:
    """What the spinner says once `text` is logged: its last step or Dockyard line, else
    `stage` still. Pure."""
    for line in text.splitlines():
        step = _STEP.match(line.strip())
        if step:
            number, total = step.group(1) or step.group(3), step.group(2) or step.group(4)
            stage = f"step {number}/{total}: {step.group(5)[:60]}"
        elif line.startswith("==> "):
            stage = line[4:].split(":")[0][:70]
    return stage


def _conclude(done: dict[str, Any]) -> None:
    if done.get("state") == "succeeded":
        image = done.get("image") or {}
        say(f"build {done['number']} succeeded: {image.get('reference')}")
        return
    reason = (done.get("reason") or "no reason given").splitlines()[0]
    raise CliError(f"build {done['number']} failed: {reason}")


def list_builds(
    ctx: typer.Context,
    *,
    service: Service,
    limit: Annotated[int, typer.Option("--limit", min=1, max=200)] = 20,
    team: Team = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """List SVC's builds, newest first."""
    current = session(ctx)
    answer = current.client().get(
        service_path(current, team, service, "builds"), params={"limit": limit}
    )
    show(answer, output, lambda a: print_table(a["items"], COLUMNS, empty="no builds yet"))


def build_log(
    ctx: typer.Context,
    *,
    service: Service,
    number: Annotated[int, typer.Argument(metavar="N", help="The build's number.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep following it.")] = False,
    team: Team = None,
) -> None:
    """Print build N's log (all of it, or live with --follow)."""
    current = session(ctx)
    path = service_path(current, team, service, "builds", str(number))
    if follow:
        hint = f"dockyard build-log {service} {number} --follow"
        _conclude(follow_build(current.client(), path, env=current.env, hint=hint))
        return
    offset = 0
    while True:
        page = current.client().get(f"{path}/log", params={"after": offset})
        console().print(page["text"], end="", markup=False, highlight=False, soft_wrap=True)
        if not page["text"] or page["done"]:
            return
        offset = int(page["next"])


def register(app: typer.Typer) -> None:
    app.add_typer(source_app, name="source")
    app.command("build")(build)
    app.command("builds")(list_builds)
    app.command("build-log")(build_log)
