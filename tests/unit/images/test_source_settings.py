"""The source roots and git remote settings, as read from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.domain.errors import Invalid
from dockyard.settings import Settings

BASE = {"HOME": "/root", "DOCKYARD_STATE_DIR": "/srv/dy"}


@pytest.mark.parametrize(
    ("extra", "roots", "max_mb"),
    [
        ({}, (Path("/srv/dy/sources"),), 512),
        ({"DOCKYARD_SOURCE_ROOTS": "/srv/a:/srv/b/"}, (Path("/srv/a"), Path("/srv/b")), 512),
        ({"DOCKYARD_SOURCE_ROOTS": ""}, (), 512),  # none: only hosted repositories
        ({"DOCKYARD_GIT_MAX_BODY_MB": "64"}, (Path("/srv/dy/sources"),), 64),
    ],
)
def test_source_settings_come_from_the_environment(
    extra: dict[str, str], roots: tuple[Path, ...], max_mb: int
) -> None:
    sources = Settings.from_env({**BASE, **extra}, uid=0).images.sources
    assert sources.roots == roots
    assert sources.hosted_dir == Path("/srv/dy/git")
    assert sources.max_push_bytes == max_mb * 1024 * 1024


@pytest.mark.parametrize(
    ("name", "value"),
    [("DOCKYARD_SOURCE_ROOTS", "relative/dir"), ("DOCKYARD_GIT_MAX_BODY_MB", "0")],
)
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(Invalid) as raised:
        Settings.from_env({**BASE, name: value}, uid=0)
    assert raised.value.field == name
