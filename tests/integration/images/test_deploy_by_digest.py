"""Every release pins a digest: a tag is resolved once through the registry; what the registry
does not hold is refused (422) before any revision, so no container ever starts for it."""

from __future__ import annotations

import docker
import pytest

from dockyard.domain.errors import Unavailable
from dockyard.images.pinning import ImagePinner
from dockyard.images.registry import RegistryClient
from tests.integration.images.conftest import Center
from tests.support.server import free_port

pytestmark = pytest.mark.docker


@pytest.fixture
def pushed(center: Center, docker_engine: docker.APIClient, test_image: str) -> tuple[str, str]:
    """The test image pushed as REGISTRY/TEAM/web:v1: (its name without tag, its digest)."""
    name = f"{center.parts.settings.registry.address}/{center.team}/web"
    docker_engine.tag(test_image, name, "v1")
    chunks = list(docker_engine.push(name, tag="v1", stream=True, decode=True))
    return name, next(c["aux"]["Digest"] for c in chunks if "aux" in c)


def _deploy(center: Center, **body: object) -> tuple[int, dict[str, object]]:
    answer = center.client.post(
        center.service() + "/envs/test/deploy", json=body, headers=center.ci
    )
    return answer.status_code, answer.json()


def test_a_tag_is_resolved_once_and_recorded_as_its_digest(
    center: Center, pushed: tuple[str, str]
) -> None:
    name, digest = pushed
    code, release = _deploy(center, image=f"{name}:v1")
    assert code == 201, release
    assert release["image"] == f"{name}@{digest}"
    # Scaling and rolling back copy the pinned reference; the tag is never looked up again.
    scaled = center.client.post(
        center.service() + "/envs/test/scale", json={"replicas": 2}, headers=center.ci
    ).json()
    assert scaled["image"] == f"{name}@{digest}"


def test_a_known_digest_is_kept_and_a_tag_beside_it_dropped(
    center: Center, pushed: tuple[str, str]
) -> None:
    name, digest = pushed
    code, release = _deploy(center, image=f"{name}:whatever@{digest}")
    assert code == 201, release
    assert release["image"] == f"{name}@{digest}"


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("{name}:no-such-tag", "has no such tag"),
        ("{name}@sha256:" + "1" * 64, "has no such digest"),
        ("registry.example.com:5000/team/web:v1", "Dockyard deploys from its own registry"),
    ],
)
def test_what_the_registry_does_not_hold_is_refused_before_any_revision(
    center: Center, pushed: tuple[str, str], image: str, message: str
) -> None:
    code, answer = _deploy(center, image=image.format(name=pushed[0]))
    assert code == 422, answer
    assert message in str(answer["message"]) and answer["field"] == "image"
    revisions = center.client.get(center.service() + "/envs/test/revisions", headers=center.ci)
    assert revisions.json()["items"] == []
    assert center.parts.notified == []


def test_a_template_tag_is_pinned_on_the_first_deploy(
    center: Center, pushed: tuple[str, str]
) -> None:
    name, digest = pushed
    patched = center.client.patch(center.service(), json={"image": f"{name}:v1"}, headers=center.ci)
    assert patched.status_code == 200
    code, release = _deploy(center)
    assert code == 201 and release["image"] == f"{name}@{digest}"


def test_a_local_engine_image_is_deployed_as_written(center: Center, test_image: str) -> None:
    code, release = _deploy(center, image=test_image)
    assert code == 201 and release["image"] == test_image


def test_a_registry_that_does_not_answer_makes_pinning_unavailable() -> None:
    address = f"127.0.0.1:{free_port()}"
    pinner = ImagePinner(RegistryClient(f"http://{address}", timeout_s=1), address=address)
    with pytest.raises(Unavailable, match="does not answer"):
        pinner.pin(f"{address}/team/web:v1")
