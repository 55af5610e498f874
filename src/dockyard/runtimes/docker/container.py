"""InstanceSpec -> the arguments of the Engine API's container create call. Pure: no I/O.

Every container Dockyard creates is limited (CPU, memory without swap, process count) and
hardened (no new privileges, all capabilities dropped but the ones the spec asks back, not
privileged, no host mounts but one per-instance directory at each declared log path's
directory, read-write for the instance) here, in one place, so no code path can forget it.
"""

from __future__ import annotations

import math
from typing import Any

from docker.types import HostConfig, LogConfig, Mount

from dockyard.domain.instance import InstanceSpec
from dockyard.domain.logfiles import log_labels, log_mounts
from dockyard.domain.lograte import rate_labels
from dockyard.domain.segment import instance_mac

# Bound each container's log on disk: a chatty service must not fill the host's disk.
LOG_OPTIONS = {"max-size": "10m", "max-file": "3"}
NO_NEW_PRIVILEGES = "no-new-privileges"
MIB = 1024 * 1024
NANO = 1_000_000_000


def host_config(
    spec: InstanceSpec,
    *,
    network: str,
    api_version: str,
    log_root: str | None = None,
    dns: tuple[str, ...] = (),
) -> HostConfig:
    """Limits, hardening and network of one container (the Engine API's HostConfig), and the
    mounts of its declared log files' directories under `log_root` (the instance's own host
    directory; see `log_mounts`). `dns`: the resolvers it asks (through Docker's embedded
    resolver, which asks them from the container's own address); none: the engine's default."""
    resources = spec.spec.resources
    mounts = [
        # rprivate: nothing mounted later on either side shows on the other.
        Mount(target, source, type="bind", read_only=False, propagation="rprivate")
        for target, source in log_mounts(spec.spec.log_paths, root=log_root or "").items()
    ]
    memory = resources.memory_mb * MIB
    return HostConfig(
        version=api_version,
        network_mode=network,
        nano_cpus=round(resources.cpus * NANO),
        mem_limit=memory,
        # Swap limit equal to the memory limit means no swap: an instance over its memory
        # is killed rather than slowing the whole host down by swapping.
        memswap_limit=memory,
        pids_limit=resources.pids,
        security_opt=[NO_NEW_PRIVILEGES],
        cap_drop=["ALL"],
        cap_add=list(spec.spec.capabilities) or None,
        privileged=False,
        # A tiny init as PID 1 forwards SIGTERM to the service and reaps zombies: without it a
        # process that installs no signal handler (busybox httpd, many scripts) ignores the
        # stop signal as PID 1 and is only killed after the whole grace period.
        init=True,
        mounts=mounts or None,
        dns=list(dns) or None,
        log_config=LogConfig(type=LogConfig.types.JSON, config=dict(LOG_OPTIONS)),
        # No restart policy on purpose: the controller restarts, with backoff it can see.
        restart_policy=None,
    )


def create_kwargs(
    spec: InstanceSpec,
    *,
    network: str,
    api_version: str,
    log_root: str | None = None,
    dns: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Keyword arguments for `docker.APIClient.create_container` that start `spec`.

    `command` overrides the image's entrypoint and `args` its command, as in Kubernetes: an
    overridden entrypoint never receives the image's default command. A spec with declared
    log files needs `log_root`, the instance's own host directory: their directories are
    mounted from under it, and labels tell the host agent where (domain/logfiles.py).
    """
    service = spec.spec
    if service.log_paths and not log_root:
        raise ValueError("a spec with log_paths needs the instance's log_root")
    return {
        "image": service.image,
        "name": spec.name,
        "labels": {
            **spec.labels,
            **log_labels(service.log_paths, service.log_multiline, root=log_root or ""),
            **rate_labels(service.log_rate),
        },
        "entrypoint": list(service.command) or None,
        "command": list(service.args) or None,
        "environment": [f"{key}={value}" for key, value in service.env],
        "stop_timeout": math.ceil(service.stop_grace_s),
        "host_config": host_config(
            spec, network=network, api_version=api_version, log_root=log_root, dns=dns
        ),
        # The SDK would otherwise copy proxy settings from the client's config into the
        # container: the environment must be exactly what the spec says.
        "use_config_proxy": False,
        # On a segment network the MAC carries the instance id to the IPAM driver, which
        # records it as the address's owner (domain/segment.py: instance_mac).
        "mac_address": instance_mac(spec.instance_id) if spec.network else None,
    }
