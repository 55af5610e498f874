"""The engine's refusals, translated once into Dockyard's error vocabulary (by table)."""

from __future__ import annotations

import pytest
import requests
from docker.errors import APIError

from dockyard.domain.errors import (
    Conflict,
    DockyardError,
    Exhausted,
    NotFound,
    RuntimeFailure,
    Unavailable,
)
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
