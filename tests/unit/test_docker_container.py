"""container.py: InstanceSpec -> create_container arguments, by table."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.ids import InstanceId
from dockyard.domain.instance import InstanceSpec
from dockyard.domain.logfiles import (
    LABEL_LOG_MULTILINE,
    LABEL_LOG_PATHS,
    DeclaredFiles,
    LogMultiline,
    files_of_labels,
    multiline_of_labels,
)
from dockyard.domain.spec import Resources, ServiceSpec
from dockyard.runtimes.docker.container import create_kwargs


def kwargs_for(**service: Any) -> dict[str, Any]:
    spec = InstanceSpec(
        team="shop",
        service="web",
        env=Environment.TEST,
        revision=7,
        instance_id=InstanceId("abcde12345"),
        spec=ServiceSpec(image="shop/web:1", **service),
    )
    return create_kwargs(spec, network="dy-net", api_version="1.41")


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ({}, {"entrypoint": None, "command": None, "environment": [], "stop_timeout": 10}),
        ({"command": ("sh", "-c")}, {"entrypoint": ["sh", "-c"], "command": None}),
        ({"args": ("--port", "80")}, {"entrypoint": None, "command": ["--port", "80"]}),
        ({"env": (("A", "1"), ("B", "x=y"))}, {"environment": ["A=1", "B=x=y"]}),
        ({"stop_grace_s": 2.5}, {"stop_timeout": 3}),
        ({"stop_grace_s": 0}, {"stop_timeout": 0}),
    ],
)
def test_container_arguments_follow_the_spec(
    service: dict[str, Any], expected: dict[str, Any]
) -> None:
    kwargs = kwargs_for(**service)
    assert {key: kwargs[key] for key in expected} == expected


def test_container_is_named_labelled_and_keeps_proxies_out() -> None:
    kwargs = kwargs_for()
    assert kwargs["name"] == "dy-shop-web-test-abcde12345"
    assert kwargs["image"] == "shop/web:1"
    assert kwargs["labels"]["io.dockyard.instance"] == "abcde12345"
    assert kwargs["labels"]["io.dockyard.revision"] == "7"
    assert kwargs["use_config_proxy"] is False


@pytest.mark.parametrize(
    ("resources", "nano_cpus", "memory", "pids"),
    [
        (Resources(), 500_000_000, 256 << 20, 512),
        (Resources(cpus=0.01, memory_mb=16, pids=16), 10_000_000, 16 << 20, 16),
        (Resources(cpus=2.5, memory_mb=4096, pids=4096), 2_500_000_000, 4096 << 20, 4096),
    ],
)
def test_limits_are_always_set_and_swap_is_off(
    resources: Resources, nano_cpus: int, memory: int, pids: int
) -> None:
    host = kwargs_for(resources=resources)["host_config"]
    assert (host["NanoCpus"], host["Memory"], host["PidsLimit"]) == (nano_cpus, memory, pids)
    assert host["MemorySwap"] == memory


@pytest.mark.parametrize(
    ("capabilities", "cap_add"),
    [((), None), (("NET_BIND_SERVICE", "CHOWN"), ["NET_BIND_SERVICE", "CHOWN"])],
)
def test_container_is_hardened(capabilities: tuple[str, ...], cap_add: list[str] | None) -> None:
    host = kwargs_for(capabilities=capabilities)["host_config"]
    assert host["CapDrop"] == ["ALL"]
    assert host.get("CapAdd") == cap_add
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert not host.get("Privileged")  # the SDK leaves out false, the engine default
    for absent in ("Binds", "Mounts", "VolumesFrom", "Devices", "RestartPolicy", "PortBindings"):
        assert absent not in host
    assert host["NetworkMode"] == "dy-net"
    assert host["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-size": "10m", "max-file": "3"},
    }


def test_declared_log_directories_are_the_only_mounts_one_per_directory() -> None:
    spec = InstanceSpec(
        team="shop", service="web", env=Environment.TEST, revision=7,
        instance_id=InstanceId("abcde12345"),
        spec=ServiceSpec(
            image="shop/web:1",
            log_paths=("/app/logs/*.log", "/app/audit/audit.log", "/app/logs/*.txt"),
            log_multiline=LogMultiline(start="^E"),
        ),
    )  # fmt: skip
    kwargs = create_kwargs(spec, network="dy-net", api_version="1.41", log_root="/files/abcde12345")
    mounts = [
        (m["Source"], m["Target"], m["Type"], m["ReadOnly"])
        for m in kwargs["host_config"]["Mounts"]
    ]
    assert mounts == [
        ("/files/abcde12345/0", "/app/logs", "bind", False),
        ("/files/abcde12345/1", "/app/audit", "bind", False),
    ]
    assert "Binds" not in kwargs["host_config"]
    labels = kwargs["labels"]
    assert files_of_labels(labels) == (
        DeclaredFiles("/files/abcde12345/0", "*.log", "/app/logs/*.log"),
        DeclaredFiles("/files/abcde12345/1", "audit.log", "/app/audit/audit.log"),
        DeclaredFiles("/files/abcde12345/0", "*.txt", "/app/logs/*.txt"),
    )
    assert multiline_of_labels(labels) == LogMultiline(start="^E")


def test_without_declared_files_nothing_is_mounted_nor_labelled() -> None:
    kwargs = kwargs_for()
    assert "Mounts" not in kwargs["host_config"]
    assert LABEL_LOG_PATHS not in kwargs["labels"]
    assert LABEL_LOG_MULTILINE not in kwargs["labels"]


def test_containers_get_the_resolvers_given_and_the_engines_default_otherwise() -> None:
    spec = InstanceSpec(
        team="shop", service="web", env=Environment.TEST, revision=7,
        instance_id=InstanceId("abcde12345"), spec=ServiceSpec(image="shop/web:1"),
    )  # fmt: skip
    given = create_kwargs(spec, network="dy-net", api_version="1.41", dns=("172.30.0.1",))
    assert given["host_config"]["Dns"] == ["172.30.0.1"]
    assert "Dns" not in kwargs_for()["host_config"]
