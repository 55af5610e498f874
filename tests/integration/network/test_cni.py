"""`dockyard-ipam` for real: Debian's CNI `bridge` plugin calls it as its IPAM plugin and sets up
interfaces in network namespaces this test creates; DEL is idempotent; GC frees stale ones."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from dockyard.domain.segment import Segment
from dockyard.network.etcd import Etcd
from dockyard.network.ipam import AddressBook, Directory, Keys
from tests.support.etcd import EtcdServer, free_port

CNI_DIR = Path("/usr/lib/cni")
PLUGIN = Path(sys.executable).with_name("dockyard-ipam")

pytestmark = pytest.mark.skipif(
    not (CNI_DIR / "bridge").exists() or os.geteuid() != 0 or not PLUGIN.exists(),
    reason="needs root, Debian's containernetworking-plugins and the dockyard-ipam script "
    "(pip install -e .)",
)


@dataclass
class Net:
    prefix: str
    segment: str
    bridge: str
    endpoint: str
    namespaces: list[str]

    def config(self, *, version: str = "1.0.0", **extra: object) -> dict[str, object]:
        return {
            "cniVersion": version,
            "name": "dockyard-test",
            "type": "bridge",
            "bridge": self.bridge,
            "isGateway": True,
            "ipam": {
                "type": "dockyard-ipam",
                "segment": self.segment,
                "etcd_endpoints": [self.endpoint],
                "etcd_prefix": self.prefix,
                "host": "node-a",
            },
            **extra,
        }

    def netns(self) -> str:
        name = f"dycni-{secrets.token_hex(3)}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.namespaces.append(name)
        return name


def call(
    plugin: str,
    command: str,
    config: dict[str, object],
    *,
    container: str,
    netns: str = "",
    ifname: str = "eth0",
) -> tuple[int, dict[str, object] | None]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": container,
        "CNI_NETNS": f"/var/run/netns/{netns}" if netns else "/var/run/netns/gone",
        "CNI_IFNAME": ifname,
        "CNI_PATH": f"{CNI_DIR}:{PLUGIN.parent}",
    }
    binary = str(CNI_DIR / plugin) if plugin == "bridge" else str(PLUGIN)
    done = subprocess.run(
        [binary],
        input=json.dumps(config),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = done.stdout.strip()
    return done.returncode, (json.loads(output) if output else None)


def leases(net: Net) -> dict[str, tuple[str | None, str | None]]:
    async def read() -> dict[str, tuple[str | None, str | None]]:
        etcd = Etcd([net.endpoint])
        try:
            found = await AddressBook(etcd, keys=Keys(net.prefix), clock=datetime.now).leases()
        finally:
            await etcd.close()
        return {
            str(lease.address): (lease.holder.container, lease.holder.interface) for lease in found
        }

    return asyncio.run(read())


@pytest.fixture
def net(etcd_server: EtcdServer) -> Iterator[Net]:
    tag = secrets.token_hex(3)
    made = Net(f"/cni-{tag}", f"c{tag}", f"dyc{tag}", etcd_server.endpoint, [])
    segment = Segment.parse(
        name=made.segment, cidr="10.88.0.0/28", gateway=None, environments=["test"]
    )

    async def publish() -> None:
        etcd = Etcd([made.endpoint])
        await Directory(etcd, keys=Keys(made.prefix)).publish(segment, [])
        await etcd.close()

    asyncio.run(publish())
    yield made
    for name in made.namespaces:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    subprocess.run(["ip", "link", "del", made.bridge], capture_output=True, check=False)


def address_in(netns: str) -> str:
    shown = subprocess.run(
        ["ip", "-n", netns, "-4", "-o", "addr", "show", "eth0"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return shown.split("inet ")[1].split()[0] if "inet " in shown else ""


def test_the_bridge_plugin_gets_distinct_addresses_and_del_is_idempotent(net: Net) -> None:
    first, second = net.netns(), net.netns()
    code, result = call("bridge", "ADD", net.config(), container="c1", netns=first)
    assert code == 0, result
    assert result is not None and address_in(first) == result["ips"][0]["address"]  # type: ignore[index]
    code, other = call("bridge", "ADD", net.config(), container="c2", netns=second)
    assert code == 0, other
    assert address_in(second) not in ("", address_in(first))
    assert leases(net) == {
        address_in(first).split("/")[0]: ("c1", "eth0"),
        address_in(second).split("/")[0]: ("c2", "eth0"),
    }
    check = net.config(prevResult=result)
    assert call("dockyard-ipam", "CHECK", check, container="c1", netns=first)[0] == 0
    assert call("bridge", "DEL", net.config(), container="c1", netns=first)[0] == 0
    assert call("bridge", "DEL", net.config(), container="c1", netns=first)[0] == 0  # twice
    subprocess.run(["ip", "netns", "del", second], check=True)  # the namespace is gone
    assert call("bridge", "DEL", net.config(), container="c2", netns=second)[0] == 0
    assert call("bridge", "DEL", net.config(), container="never-added")[0] == 0
    assert leases(net) == {}
    assert call("dockyard-ipam", "CHECK", check, container="c1", netns=first)[0] == 1


def test_add_repeated_for_one_attachment_returns_the_same_address(net: Net) -> None:
    first = call("dockyard-ipam", "ADD", net.config(), container="c1")
    again = call("dockyard-ipam", "ADD", net.config(), container="c1")
    assert first == again and first[0] == 0
    assert len(leases(net)) == 1


def test_gc_frees_addresses_no_valid_attachment_names(net: Net) -> None:
    for container in ("keep", "stale"):
        assert call("dockyard-ipam", "ADD", net.config(), container=container)[0] == 0
    valid = net.config(
        version="1.1.0",
        **{"cni.dev/valid-attachments": [{"containerID": "keep", "ifname": "eth0"}]},
    )
    assert call("dockyard-ipam", "GC", valid, container="")[0] == 0
    assert list(leases(net).values()) == [("keep", "eth0")]


def test_version_and_etcd_down_answers(net: Net) -> None:
    code, version = call("dockyard-ipam", "VERSION", {"cniVersion": "1.1.0"}, container="")
    assert code == 0 and version is not None and "1.1.0" in version["supportedVersions"]  # type: ignore[operator]
    down = net.config()
    down["ipam"] = {**down["ipam"], "etcd_endpoints": [f"http://127.0.0.1:{free_port()}"]}  # type: ignore[dict-item]
    code, error = call("dockyard-ipam", "ADD", down, container="c9")
    assert code == 1 and error is not None and error["code"] == 11
    assert "IPAM unavailable" in str(error["msg"])
