"""`images list|prune|gc|bootstrap` and `provenance`: what was built, what is kept, and where
a running instance came from."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from dockyard.cli.client import api_path
from dockyard.cli.commands.services import service_path
from dockyard.cli.context import session
from dockyard.cli.errors import CliError
from dockyard.cli.options import Output, Team
from dockyard.cli.output import Column, OutputFormat, print_fields, print_table, say, show, when
from dockyard.cli.registry import collect_garbage
from dockyard.images.bootstrap import Bootstrap
from dockyard.images.engine import Engine, EngineError
from dockyard.images.registry import RegistryClient

images_app = typer.Typer(help="Images built for services, and the registry.", no_args_is_help=True)

Service = Annotated[str, typer.Argument(metavar="SVC", help="The service.")]

COLUMNS = (
    Column("TAG", lambda i: i.get("tag")),
    Column("DIGEST", lambda i: i.get("digest", "")[:19]),
    Column("COMMIT", lambda i: (i.get("commit") or "")[:12]),
    Column("MESSAGE", lambda i: (i.get("message") or "").split("\n")[0][:50]),
    Column("AUTHOR", lambda i: i.get("author")),
    Column("BUILD", lambda i: i.get("build_number"), "right"),
    Column("MB", lambda i: f"{(i.get('size_bytes') or 0) / 1e6:.1f}", "right"),
    Column("BUILT", lambda i: when(i.get("created_at"))),
    Column("IN REGISTRY", lambda i: not i.get("deleted_at")),
)
VERDICT_COLUMNS = (
    Column("IMAGE", lambda v: v.get("reference")),
    Column("MB", lambda v: f"{(v.get('size_bytes') or 0) / 1e6:.1f}", "right"),
    Column("WHY", lambda v: v.get("why")),
)
STEP_COLUMNS = (
    Column("ENV", lambda s: s.get("env")),
    Column("REVISION", lambda s: s.get("revision"), "right"),
    Column("CAUSE", lambda s: s.get("cause")),
    Column("BY", lambda s: s.get("created_by")),
    Column("AT", lambda s: when(s.get("created_at"))),
)


@images_app.command("list")
def list_images(
    ctx: typer.Context,
    *,
    service: Service,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    team: Team = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """List SVC's images, newest first."""
    current = session(ctx)
    answer = current.client().get(
        service_path(current, team, service, "images"), params={"limit": limit}
    )
    show(answer, output, lambda a: print_table(a["items"], COLUMNS, empty="no images yet"))


@images_app.command("prune")
def prune(
    ctx: typer.Context,
    *,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be deleted.")
    ] = False,
    keep: Annotated[
        int | None,
        typer.Option("--keep", min=1, help="Revisions kept per environment (default: setting)."),
    ] = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """(admin) Delete images no recent revision runs; then run `dockyard images gc`."""
    current = session(ctx)
    body: dict[str, Any] = {"dry_run": dry_run}
    if keep is not None:
        body["keep_revisions"] = keep
    answer = current.client().post(api_path("images", "retention"), body)
    show(answer, output, _render_prune)


def _render_prune(answer: dict[str, Any]) -> None:
    verb = "would delete" if answer["dry_run"] else "deleted"
    say(f"{verb} {len(answer['deleted'])} image(s); kept {len(answer['kept'])}")
    print_table(answer["deleted"], VERDICT_COLUMNS, empty="nothing to delete")
    if not answer["dry_run"] and answer["deleted"]:
        say("run `dockyard images gc` on the registry's host to free their space")


@images_app.command("gc")
def gc(
    ctx: typer.Context,
    *,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what would go.")] = False,
) -> None:
    """Free the registry's space: garbage-collect it (read-only meanwhile; on its host only)."""
    settings = session(ctx).settings
    collected = collect_garbage(settings, dry_run=dry_run)
    lines = [line for line in collected.output.splitlines() if "eligible for deletion" in line]
    say(f"{len(lines)} blob(s) {'would be' if dry_run else 'were'} deleted")
    before, after = collected.bytes_before, collected.bytes_after
    if before is not None and after is not None:
        say(f"registry storage: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")


@images_app.command("bootstrap")
def bootstrap(
    ctx: typer.Context,
    *,
    force: Annotated[bool, typer.Option("--force", help="Make them even if up to date.")] = False,
    skip_python: Annotated[
        bool, typer.Option("--skip-python", help="Only the busybox image (no debootstrap).")
    ] = False,
) -> None:
    """Make the base images (busybox; Debian bookworm + python3) and push them to the registry
    (on the registry's host, as root); images already up to date are skipped."""
    settings = session(ctx).settings
    images = settings.images
    registry = RegistryClient(images.registry.url)
    maker = Bootstrap(
        engine=Engine(settings.docker.host),
        registry=registry,
        address=images.registry.address,
        work_dir=images.builds.work_dir,
        mirror=images.debian_mirror,
    )
    try:
        made = [maker.busybox(say=say, force=force)]
        if not skip_python:
            if os.geteuid() != 0:
                raise CliError("debootstrap needs root: run `sudo dockyard images bootstrap`")
            made.append(maker.debian_python(say=say, force=force))
    except (EngineError, RuntimeError) as exc:
        raise CliError(f"bootstrap failed: {exc}") from None
    finally:
        registry.close()
    for image in made:
        how = "up to date" if image.skipped else f"made in {image.seconds:.1f} s"
        say(f"{image.reference}: {how}")


def provenance(
    ctx: typer.Context,
    *,
    instance: Annotated[str, typer.Argument(metavar="INSTANCE", help="An instance id.")],
    team: Team = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """Where INSTANCE came from: digest, commit, build and its log, who released it when."""
    current = session(ctx)
    path = api_path("teams", current.team(team), "instances", instance, "provenance")
    show(current.client().get(path), output, _render_provenance)


def _render_provenance(found: dict[str, Any]) -> None:
    image = found.get("built") or {}
    build = found.get("build") or {}
    print_fields(
        [
            ("instance", f"{found['instance']} of {found['team']}/{found['service']}"),
            ("runs", f"{found['env']} revision {found['revision']}"),
            ("image", found.get("image")),
            ("digest", found.get("digest") or "not pinned (a local engine image)"),
            ("commit", image.get("commit") or "-"),
            ("author", image.get("author") or "-"),
            ("message", (image.get("message") or "-").split("\n")[0]),
            ("build", f"{build.get('number')} by {build.get('requested_by')}" if build else "-"),
            ("build log", found.get("build_log") or "-"),
        ]
    )
    print_table(found.get("releases") or [], STEP_COLUMNS, empty="no release names this digest")


def register(app: typer.Typer) -> None:
    app.add_typer(images_app, name="images")
    app.command("provenance")(provenance)
