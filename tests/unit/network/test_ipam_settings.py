"""The etcd and IPAM settings: defaults, lists of endpoints, and bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.domain.errors import Invalid
from dockyard.settings import Settings


def test_defaults_point_at_the_local_etcd_and_the_docker_plugin_socket() -> None:
    settings = Settings.from_env({"HOME": "/root"}, uid=0)
    assert settings.etcd.endpoints == ("http://127.0.0.1:2379",)
    assert settings.etcd.endpoints_are_default and settings.etcd.prefix == "/dockyard"
    assert settings.ipam.driver_socket == Path("/run/docker/plugins/dockyard.sock")
    assert settings.ipam.gc_grace_s == 60
    assert (settings.ipam.host_ttl_s, settings.ipam.host_grace_s) == (15, 600)


def test_a_cluster_is_a_comma_separated_list() -> None:
    environ = {
        "HOME": "/root",
        "DOCKYARD_ETCD_ENDPOINTS": "http://10.0.0.1:2379, http://10.0.0.2:2379/",
    }
    settings = Settings.from_env(environ, uid=0)
    assert settings.etcd.endpoints == ("http://10.0.0.1:2379", "http://10.0.0.2:2379")
    assert not settings.etcd.endpoints_are_default


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DOCKYARD_ETCD_ENDPOINTS", "10.0.0.1:2379"),
        ("DOCKYARD_ETCD_ENDPOINTS", ","),
        ("DOCKYARD_ETCD_PREFIX", "dockyard/"),
        ("DOCKYARD_IPAM_GC_GRACE_S", "-1"),
        ("DOCKYARD_IPAM_SOCKET", "relative.sock"),
        ("DOCKYARD_IPAM_HOST_TTL_S", "1"),
        ("DOCKYARD_IPAM_HOST_GRACE_S", "ten minutes"),
        ("DOCKYARD_UPLINK", "enx0011223344556"),  # 16 characters: no interface has that name
        ("DOCKYARD_UPLINK", "eth1/2"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(Invalid) as caught:
        Settings.from_env({"HOME": "/root", name: value}, uid=0)
    assert caught.value.field == name


def test_no_uplink_by_default_so_vlan_segments_are_refused_until_one_is_set() -> None:
    assert Settings.from_env({"HOME": "/root"}, uid=0).ipam.uplink is None
    environ = {"HOME": "/root", "DOCKYARD_UPLINK": "bond0"}
    assert Settings.from_env(environ, uid=0).ipam.uplink == "bond0"
