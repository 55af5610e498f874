"""One build, start to end: fetch, resolve, (skip if built), export, build, push, record.

Runs in a worker thread (git and the engine block). Each step logs what it does; any failure
ends the build `failed` with the reason and the log's last lines, and nothing is recorded or
deployed. Success records the image (digest read back from the registry's manifest) and, if the
build asked for it, releases the image to an environment.

Nothing is done twice: a commit id the mirror holds needs no fetch, and a forced rebuild whose
image the registry already holds under its tag needs no push (the engine still builds it).
The image is recorded in the build's last transaction, with the end of its log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from dockyard.domain.clock import Clock
from dockyard.domain.errors import DockyardError
from dockyard.domain.status import EnvKey
from dockyard.images import naming
from dockyard.images.build_events import BuildEvents
from dockyard.images.build_log import BuildLog
from dockyard.images.config import ImageSettings
from dockyard.images.context import GENERATED, make_context
from dockyard.images.context_cache import ContextCache, context_key
from dockyard.images.engine import Engine, EngineError
from dockyard.images.git import Commit, Mirror, SourceError
from dockyard.images.registry import Manifest, RegistryClient
from dockyard.images.releasing import principal_of, release_image
from dockyard.images.sources import check_source
from dockyard.images.work_dir import WorkDir
from dockyard.store import builds, images
from dockyard.store.builds import Claimed
from dockyard.store.db import Database
from dockyard.store.images import ImageView, NewImage
from dockyard.store.releases import Change
from dockyard.store.status import key_for

log = logging.getLogger(__name__)


class BuildFailed(Exception):
    """The reason a build failed, as its users should read it."""


@dataclass(frozen=True)
class Tools:
    """What a build works with."""

    db: Database
    engine: Engine
    registry: RegistryClient
    settings: ImageSettings
    clock: Clock
    notify: Callable[[EnvKey], None]
    events: BuildEvents = field(default_factory=BuildEvents)


def run_build(tools: Tools, job: Claimed) -> None:
    """Run `job` to its end and record the outcome. Never raises for a failed build."""
    out = BuildLog(tools.db, job.id, changed=tools.events.changed)
    started = time.monotonic()
    try:
        # The file:// source policy again, as roots may have changed since the source was set.
        check_source(
            tools.settings.sources, job.source.repo_url, team=job.team, trusted=job.source_trusted
        )
        image = _steps(tools, job, out, started=started)
        if isinstance(image, NewImage) and job.deploy_to is not None:
            image = _record(tools, job, image)  # the release names the recorded image
    except (BuildFailed, SourceError, EngineError, DockyardError) as exc:
        _end(tools, job, out, failed=exc.message if isinstance(exc, DockyardError) else str(exc))
        log.info("build failed team=%s service=%s build=%s", job.team, job.service, job.number)
        return
    except Exception as exc:
        log.exception("build crashed team=%s service=%s", job.team, job.service)
        _end(tools, job, out, failed=f"internal error {exc.__class__.__name__}: {exc}")
        return
    out.line(f"image {image.repository}@{image.digest} ({image.size_bytes} bytes)")
    if isinstance(image, ImageView) and job.deploy_to is not None:
        _deploy(tools, job, image, out=out)
    try:
        _end(tools, job, out, image=image)
    except DockyardError as exc:  # recording failed and wrote nothing: the build fails
        log.warning("build not recorded team=%s service=%s: %s", job.team, job.service, exc)
        _end(tools, job, out, failed=exc.message)


def _end(
    tools: Tools,
    job: Claimed,
    out: BuildLog,
    *,
    failed: str | None = None,
    image: ImageView | NewImage | None = None,
) -> None:
    """The log's last piece, the new image's record (if `image` is new) and the build's
    outcome, in one transaction: a reader never sees the build ended before its log is whole
    or its image recorded. A failure's reason ends with the log's tail. After a failure
    nothing of it was written."""
    if failed is not None:
        out.line(f"build failed: {failed}")
        failed = f"{failed}\n{out.tail()}"

    def outcome(session: Session) -> None:
        image_id = image.id if isinstance(image, ImageView) else None
        if isinstance(image, NewImage):
            image_id = _record_in(session, tools, job, image).id
        builds.finish(session, job.id, failed=failed, image_id=image_id, now=tools.clock())

    out.finish(outcome)


def _steps(tools: Tools, job: Claimed, out: BuildLog, *, started: float) -> ImageView | NewImage:
    """The image of the build: one recorded already (an unforced build of a built commit) or
    the one just built and pushed, still to record."""
    source = job.source
    work = WorkDir(tools.settings.builds.work_dir)
    mirror = Mirror(work.mirror(job.service_id), source.repo_url)
    deadline = started + tools.settings.builds.timeout_s
    with mirror.locked():
        if mirror.has(job.ref):  # a commit id names the same commit whatever a fetch brings
            out.line(f"commit {job.ref} is in the mirror of {naming.public_url(source.repo_url)}")
        else:
            out.line(f"fetching {naming.public_url(source.repo_url)}")
            out.write(_indent(mirror.fetch()))
        commit = mirror.find(job.ref)
        sha = commit.sha
        with tools.db.session() as session:
            builds.set_commit(session, job.id, sha)
            recorded = None if job.force else images.image_for_commit(session, job.service_id, sha)
        out.line(f"{job.ref} is commit {sha}: {_first_line(commit.message)} ({commit.author})")
        if recorded is not None:
            existing = _still_pushed(tools, job, recorded)
            if existing is not None:
                out.line(
                    f"commit {naming.short(sha)} was built already as {existing.reference}; "
                    "nothing to do (--force builds it again)"
                )
                return existing
        kept = ContextCache(work.kept)
        context = _context(job, mirror, commit, into=work.context(job.id), kept=kept, out=out)
    try:
        return _build_and_push(tools, job, out, commit=commit, context=context, deadline=deadline)
    finally:
        context.unlink(missing_ok=True)


def _context(
    job: Claimed, mirror: Mirror, commit: Commit, *, into: Path, kept: ContextCache, out: BuildLog
) -> Path:
    """The build context of `commit`: the one kept from its last build, or exported now (and
    kept). Called with the mirror locked."""
    labels = _labels(job, commit)
    key = context_key(commit.sha, job.source, labels)
    if kept.take(job.service_id, key, into=into) is not None:
        out.line(f"the context of commit {naming.short(commit.sha)} is the one sent last time")
        return into
    context = make_context(mirror, commit.sha, source=job.source, labels=labels, into=into)
    kept.keep(job.service_id, key, context)
    return context


def _build_and_push(
    tools: Tools, job: Claimed, out: BuildLog, *, commit: Commit, context: Path, deadline: float
) -> NewImage:
    address = tools.settings.registry.address
    repository = naming.repository(address, team=job.team, service=job.service)
    tag = naming.short(commit.sha)
    out.line(f"building {repository}:{tag} ({job.source.dockerfile} in {job.source.context})")
    started = time.monotonic()
    path = f"{job.team}/{job.service}"
    with ThreadPoolExecutor(max_workers=1) as aside:
        # A forced rebuild asks the registry what the tag holds while the engine builds.
        held = aside.submit(tools.registry.manifest, path, tag) if job.force else None
        image_id = tools.engine.build(
            context, dockerfile=GENERATED, tag=f"{repository}:{tag}", on_line=out.write,
            deadline=deadline,
        )  # fmt: skip
        manifest = _if_image(held.result(), image_id=image_id) if held else None
    if manifest is not None:
        out.line(
            f"the registry holds this very image as {path}:{tag} ({manifest.digest}) "
            "already; nothing to push"
        )
    else:
        manifest = _push(tools, out, repository=repository, path=path, tag=tag, deadline=deadline)
    return NewImage(
        repository=repository, digest=manifest.digest, tag=tag, commit=commit.sha,
        author=commit.author, message=commit.message, committed_at=commit.committed_at,
        size_bytes=manifest.size, build_number=job.number,
        duration_s=time.monotonic() - started,
    )  # fmt: skip


def _record(tools: Tools, job: Claimed, image: NewImage) -> ImageView:
    with tools.db.session() as session:
        return _record_in(session, tools, job, image)


def _record_in(session: Session, tools: Tools, job: Claimed, image: NewImage) -> ImageView:
    return images.record_image(session, service_id=job.service_id, image=image, now=tools.clock())


def _if_image(manifest: Manifest | None, *, image_id: str) -> Manifest | None:
    """`manifest` (what the registry holds under the tag) if it is image `image_id`: its config
    is the image's config, whose digest is the image id, so pushing again would change
    nothing. A forced rebuild with a warm cache makes the same image: one request, no push."""
    return manifest if manifest is not None and manifest.config_digest == image_id else None


def _push(
    tools: Tools, out: BuildLog, *, repository: str, path: str, tag: str, deadline: float
) -> Manifest:
    """Push `repository:tag` (`path:tag` in the registry); the manifest it holds, read back."""
    out.line(f"pushing {repository}:{tag}")
    pushed = tools.engine.push(repository, tag, on_line=out.write, deadline=deadline)
    manifest = tools.registry.manifest(path, tag)
    if manifest is None or manifest.digest != pushed:
        found = manifest.digest if manifest else "nothing"
        raise BuildFailed(
            f"the registry holds {found} under {path}:{tag}, not the pushed {pushed}; "
            "something else pushed to the same tag meanwhile: build again"
        )
    return manifest


def _labels(job: Claimed, commit: Commit) -> dict[str, str]:
    return naming.oci_labels(
        source_url=job.source.repo_url,
        commit=commit.sha,
        created=commit.committed_at.isoformat(),
        team=job.team,
        service=job.service,
    )


def _still_pushed(tools: Tools, job: Claimed, recorded: ImageView) -> ImageView | None:
    """`recorded` (the image recorded for the build's commit) if the registry still has it."""
    present = tools.registry.digest(f"{job.team}/{job.service}", recorded.digest)
    return recorded if present == recorded.digest else None


def _deploy(tools: Tools, job: Claimed, image: ImageView, *, out: BuildLog) -> None:
    env = job.deploy_to
    assert env is not None  # checked by the caller
    change = Change(who=principal_of(job.requested_by), now=tools.clock())
    try:
        with tools.db.session() as session:
            release = release_image(
                session, change, team=job.team, service=job.service, env=env,
                image=image.reference, cause=f"build {job.number}: {naming.short(image.commit)}",
            )  # fmt: skip
            key = key_for(session, team=job.team, service=job.service, env=env)
    except DockyardError as exc:
        out.line(f"deploying to {env.value} failed: {exc.message}")
        return
    out.line(f"deployed to {env.value} as revision {release.number}")
    if key is not None:
        tools.notify(key)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "(no message)"


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.splitlines() if line.strip())
