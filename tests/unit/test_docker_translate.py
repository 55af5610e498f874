"""The engine's refusals, translated once into Dockyard's error vocabulary (by table)."""

from __future__ import annotations

import pytest
import requests
from docker.errors import APIError

from dockyard.domain.clock import utcnow
from dockyard.domain.errors import (
    Conflict,
    DockyardError,
    Exhausted,
    NotFound,
    RuntimeFailure,
    Unavailable,
)
from dockyard.network.etcd import Etcd
from dockyard.network.ipam import AddressBook, Directory, Keys
from dockyard.network.ipam.docker_driver import ContainerInfo, DockerIpamDriver
from dockyard.runtimes.docker.translate import from_api_error


def api_error(status: int, explanation: str) -> APIError:
    response = requests.Response()
    response.status_code = status
    return APIError("engine said no", response=response, explanation=explanation)


@pytest.mark.parametrize(
    ("status", "explanation", "expected"),
    [
        (404, "No such container: abc", NotFound),
        (409, "Conflict. The container name is already in use", Conflict),
        (500, "IpamDriver.RequestAddress: IPAM unavailable: etcd does not answer", Unavailable),
        (500, "OCI runtime create failed: no such file", RuntimeFailure),
    ],
)  # fmt: skip
def test_engine_refusals_map_to_one_vocabulary(
    status: int, explanation: str, expected: type[DockyardError]
) -> None:
    error = from_api_error(api_error(status, explanation), "start web")
    assert type(error) is expected
    assert explanation in error.message and error.message.startswith("start web")


async def test_the_drivers_answer_to_an_address_call_without_its_pool_is_a_wait() -> None:
    # The driver's own answer (its wording may change), as the engine relays a remote IPAM
    # driver's error: "remote: " and the driver's message. The call is refused before any
    # etcd is asked: the endpoint below is never dialled.
    etcd, keys = Etcd(["http://127.0.0.1:9"]), Keys("/translate-test")
    driver = DockerIpamDriver(
        book=AddressBook(etcd, keys=keys, clock=utcnow),
        directory=Directory(etcd, keys=keys),
        host="h1",
        clock=utcnow,
        lookup=no_container,
    )
    answer = await driver.handle("IpamDriver.RequestAddress", {"Options": None})
    assert "PoolID" in answer["Error"]  # the pool's refusal, not an etcd failure
    explanation = f"remote: {answer['Error']}"
    error = from_api_error(api_error(500, explanation), "start web")
    assert type(error) is Unavailable
    assert explanation in error.message and error.message.startswith("start web")


async def no_container(_instance: str) -> ContainerInfo | None:
    return None


def test_an_exhausted_segment_is_told_in_the_drivers_words_first() -> None:
    explanation = (
        "remote: IpamDriver.RequestAddress: segment offline-a is exhausted (254 of 254 used): "
        "scale something down"
    )
    error = from_api_error(api_error(500, explanation), "start web")
    assert type(error) is Exhausted
    assert error.message == (
        "segment offline-a is exhausted (254 of 254 used): scale something down (start web)"
    )


DRIVER_GONE = [
    pytest.param(
        'Post "http://%2Frun%2Fdocker%2Fplugins%2Fdockyard.sock/IpamDriver.RequestAddress": '
        "dial unix /run/docker/plugins/dockyard.sock: connect: no such file or directory",
        id="socket-gone",
    ),
    pytest.param(
        'Post "http://%2Frun%2Fdocker%2Fplugins%2Fdockyard.sock/IpamDriver.RequestAddress": '
        "dial unix /run/docker/plugins/dockyard.sock: connect: connection refused",
        id="agent-killed-socket-left",
    ),
    pytest.param(
        'error getting IPAM driver "dockyard": plugin not found', id="plugin-not-registered"
    ),
    pytest.param(
        "could not find plugin dockyard in v1 plugin registry: plugin not found",
        id="plugin-registry",
    ),
]


@pytest.mark.parametrize("explanation", DRIVER_GONE)
def test_an_unreachable_ipam_driver_is_a_wait_naming_the_host(explanation: str) -> None:
    error = from_api_error(api_error(500, explanation), "start web", host="node-7")
    assert type(error) is Unavailable
    assert error.message.startswith("IPAM driver unavailable on host node-7 (start web: ")
    assert explanation in error.message and "dockyard agent" in error.message


def test_a_segment_not_yet_in_etcd_is_a_wait() -> None:
    explanation = (
        "IpamDriver.RequestPool: segment 'off1' is not configured in etcd: create it with "
        "`dockyard segments create`; a server publishes the segments it knows within its "
        "resync interval (DOCKYARD_RESYNC_INTERVAL_S)"
    )
    error = from_api_error(api_error(500, explanation), "make the network of segment off1")
    assert type(error) is Unavailable and explanation in error.message


def test_another_plugin_call_failing_inside_the_driver_is_no_wait() -> None:
    explanation = "IpamDriver.RequestAddress: address 10.0.0.300 is not valid"
    assert type(from_api_error(api_error(500, explanation), "start web")) is RuntimeFailure
