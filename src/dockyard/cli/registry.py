"""The image registry on this host: started by `dockyard up`, stopped by `down`, and taken
through garbage collection by `dockyard images gc`.

Debian's docker-registry runs as a program of this host's supervisor (cli/supervisor.py) with
the configuration Dockyard generates from its settings. Garbage collection follows distribution's
rule (the registry must be read-only or stopped while it runs): the registry is restarted in
read-only mode, so pulls keep working, `garbage-collect` runs, and it is restarted writable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from dockyard.cli.errors import CliError
from dockyard.cli.processes import Managed, stop
from dockyard.cli.supervision import Supervised, claimed, disown, host_supervisor, supervise
from dockyard.cli.supervisor import HostSupervisor, Program
from dockyard.images.config import RegistrySettings, StorageKind
from dockyard.images.registry_config import registry_environment, write_config
from dockyard.settings import Settings

REGISTRY_BINARY = "/usr/bin/docker-registry"
REGISTRY_START_S = 20.0
REGISTRY_STOP_S = 15.0
GC_TIMEOUT_S = 3600.0


def registry_process(settings: Settings) -> Managed:
    run, logs = settings.paths.run_dir, settings.paths.logs_dir
    config = settings.images.registry.config_file
    return Managed(
        name="registry",
        argv=(find_registry() or REGISTRY_BINARY, "serve", str(config)),
        pid_file=run / "registry.pid",
        log_file=logs / "registry.log",
    )


def find_registry() -> str | None:
    found = shutil.which("docker-registry")
    return found or (REGISTRY_BINARY if os.access(REGISTRY_BINARY, os.X_OK) else None)


def registry_answers(registry: RegistrySettings) -> bool:
    """True if something answers the distribution API root at the registry's address."""
    try:
        with httpx.Client(timeout=2.0) as http:
            return http.get(f"{registry.url}/v2/").status_code == httpx.codes.OK
    except httpx.HTTPError:
        return False


def ensure_registry(settings: Settings, *, env: dict[str, str] | None = None) -> str:
    """Make sure the registry answers, running this host's one under the supervisor if
    Dockyard manages it."""
    registry = settings.images.registry
    process = registry_process(settings)
    supervisor = _supervisor(settings)
    if not claimed(supervisor, process) and registry_answers(registry):
        disown(supervisor, process)
        return f"running at {registry.address} (not started by dockyard up)"
    if not registry.managed:
        raise CliError(
            f"no registry answers at {registry.address} (DOCKYARD_REGISTRY): start it, or point "
            "DOCKYARD_REGISTRY at a loopback address to let `dockyard up` run one here"
        )
    done = _start(settings, env=env, read_only=False)
    return (
        f"docker-registry {done.describe()} at {registry.address}, "
        f"{registry.storage} storage, log {process.log_file}"
    )


def _start(settings: Settings, *, env: dict[str, str] | None, read_only: bool) -> Supervised:
    if find_registry() is None:
        raise CliError(
            f"{REGISTRY_BINARY} is not installed: `apt-get install docker-registry` "
            "(or run ./run up)"
        )
    registry = settings.images.registry
    write_config(registry, read_only=read_only)
    environ = dict(os.environ if env is None else env)
    return supervise(
        settings,
        Program(
            registry_process(settings),
            stop_s=REGISTRY_STOP_S,
            environment=storage_credentials(environ),
        ),
        env=environ,
        answers=lambda: registry_answers(registry),
        timeout_s=REGISTRY_START_S,
        failure=f"the registry did not come up at {registry.address}",
    )


def storage_credentials(environ: dict[str, str]) -> dict[str, str]:
    """The host's AWS credentials and settings, for S3 storage without keys in the config."""
    return {k: v for k, v in registry_environment(environ).items() if k.startswith("AWS_")}


def _supervisor(settings: Settings) -> HostSupervisor:
    return host_supervisor(settings)


def stop_registry(settings: Settings) -> str:
    process, supervisor = registry_process(settings), _supervisor(settings)
    pid = supervisor.uninstall(process.name) or stop(process, timeout_s=REGISTRY_STOP_S)
    supervisor.shutdown_if_idle()
    return f"registry: stopped (pid {pid})" if pid else "registry: not started by `dockyard up`"


@dataclass(frozen=True)
class Collected:
    """What one garbage collection did: its output, and the storage used before and after
    (filesystem storage only; None for S3 and Swift, whose usage only their owner can see)."""

    output: str
    bytes_before: int | None
    bytes_after: int | None


def collect_garbage(settings: Settings, *, dry_run: bool) -> Collected:
    """Run `docker-registry garbage-collect` on the managed registry, read-only meanwhile.

    Blobs no manifest references are removed. Untagged manifests are kept on purpose
    (no `--delete-untagged`): a release pins a digest, and the tag of a rebuilt commit moves
    to the new image while old revisions still name the old one. After success or failure the
    registry runs writable again.
    """
    registry = settings.images.registry
    if _supervisor(settings).state(registry_process(settings).name) is None:
        raise CliError(
            "garbage collection runs only on the host whose `dockyard up` started the registry "
            f"(its supervisor in {settings.paths.run_dir} runs no registry); run it there"
        )
    before = _usage(registry)
    supervisor = _supervisor(settings)
    supervisor.stop(registry_process(settings).name)  # each mode is a start of its own
    try:
        _start(settings, env=None, read_only=True)
        argv = [find_registry() or REGISTRY_BINARY, "garbage-collect"]
        if dry_run:
            argv.append("--dry-run")
        done = subprocess.run(
            [*argv, str(registry.config_file)],
            capture_output=True,
            text=True,
            timeout=GC_TIMEOUT_S,
            env=registry_environment(dict(os.environ)),
            check=False,
        )
    finally:
        supervisor.stop(registry_process(settings).name)
        _start(settings, env=None, read_only=False)
    if done.returncode != 0:
        raise CliError(f"garbage-collect failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return Collected(
        output=(done.stdout + done.stderr).strip(),
        bytes_before=before,
        bytes_after=_usage(registry),
    )


def _usage(registry: RegistrySettings) -> int | None:
    if registry.storage is not StorageKind.FILESYSTEM:
        return None
    return _tree_size(registry.data_dir)


def _tree_size(root: Path) -> int:
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except FileNotFoundError:
                continue
    return total
