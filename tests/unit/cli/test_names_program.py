"""The DNS programs `up` runs: their settings, configurations and upstream resolvers."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.cli.names import host_upstreams, write_configs
from dockyard.domain.errors import Invalid
from dockyard.settings import Settings

RESOLV = "# generated\nsearch corp\nnameserver 10.0.0.2\nnameserver 127.0.0.1\noptions ndots:1\n"


@pytest.mark.parametrize(
    ("own", "port", "expected"),
    [
        ((), 53, ("10.0.0.2", "127.0.0.1")),
        (("127.0.0.1",), 53, ("10.0.0.2",)),  # never forward to itself
        (("127.0.0.1",), 5353, ("10.0.0.2", "127.0.0.1")),  # another port: not itself
    ],
)
def test_upstreams_are_the_hosts_nameservers_but_dnsmasq_itself(
    own: tuple[str, ...], port: int, expected: tuple[str, ...]
) -> None:
    assert host_upstreams(RESOLV, own=own, port=port) == expected


def settings(tmp_path: Path, **more: str) -> Settings:
    return Settings.from_env({"DOCKYARD_STATE_DIR": str(tmp_path), **more}, uid=0)


def test_the_defaults_serve_dockyard_internal_with_a_five_second_ttl(tmp_path: Path) -> None:
    names = settings(tmp_path).names
    assert (names.enabled, names.zone, names.ttl_s, names.pdns, names.port) == (
        True, "dockyard.internal", 5, ("127.0.0.1", 5300), 53,
    )  # fmt: skip
    assert names.resolvers == () and names.listen == ("127.0.0.1",)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DOCKYARD_DNS_ZONE", "bad_zone!"),
        ("DOCKYARD_DNS_TTL_S", "30"),  # answers must follow changes: at most 5 s
        ("DOCKYARD_PDNS_ADDR", "127.0.0.1"),
        ("DOCKYARD_DNS_RESOLVERS", "10.0.0.1,not-an-address"),
        ("DOCKYARD_DNS_UPSTREAMS", "10.0.0.1#99999"),
        ("DOCKYARD_DNS", "maybe"),
    ],
)
def test_a_bad_dns_setting_is_refused_naming_the_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    with pytest.raises(Invalid) as refused:
        settings(tmp_path, **{variable: value})
    assert refused.value.field == variable


def test_the_configurations_name_the_zone_the_ports_and_every_listen_address(
    tmp_path: Path,
) -> None:
    chosen = settings(
        tmp_path,
        DOCKYARD_DNS_ZONE="Corp.Example.",
        DOCKYARD_DNS_RESOLVERS="172.30.0.1",
        DOCKYARD_DNS_PORT="5353",
        DOCKYARD_DNS_UPSTREAMS="10.0.0.2,10.0.0.3#5353",
    )
    first = write_configs(chosen)
    dnsmasq = (tmp_path / "dns" / "dnsmasq.conf").read_text().splitlines()
    pdns = (tmp_path / "dns" / "pdns" / "pdns.conf").read_text().splitlines()
    assert "server=/corp.example/127.0.0.1#5300" in dnsmasq
    assert {"listen-address=127.0.0.1", "listen-address=172.30.0.1", "port=5353"} <= set(dnsmasq)
    assert {"server=10.0.0.2", "server=10.0.0.3#5353", "add-subnet=32,128", "cache-size=0"} <= set(
        dnsmasq
    )
    assert {"cache-ttl=0", "query-cache-ttl=0", "edns-subnet-processing=yes"} <= set(pdns)
    assert f"remote-connection-string=unix:path={tmp_path}/dns/names.sock" in pdns
    assert write_configs(chosen) == first
    assert write_configs(settings(tmp_path))[1] != first[1]


@pytest.mark.parametrize(
    ("more", "interfaces"),
    [
        ({}, {"interface=docker0", "interface=br-*", "interface=dy-*"}),
        ({"DOCKYARD_DNS_RESOLVERS": "172.30.0.1"}, set()),  # the operator's addresses only
    ],
)
def test_dnsmasq_answers_on_the_bridges_gateways_unless_resolvers_are_named(
    tmp_path: Path, more: dict[str, str], interfaces: set[str]
) -> None:
    write_configs(settings(tmp_path, **more))
    dnsmasq = (tmp_path / "dns" / "dnsmasq.conf").read_text().splitlines()
    assert {line for line in dnsmasq if line.startswith("interface=")} == interfaces
    assert {"bind-dynamic", "listen-address=127.0.0.1"} <= set(dnsmasq)


def test_a_missing_remote_backend_is_named_among_what_names_lack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dockyard.cli import names

    absent = tmp_path / "libremotebackend.so"
    monkeypatch.setattr(names, "REMOTE_BACKEND", absent)
    assert str(absent) in names.missing(settings(tmp_path))
    absent.write_bytes(b"")
    assert str(absent) not in names.missing(settings(tmp_path))
