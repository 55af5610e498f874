"""A service's git source is checked once, on construction; refs follow git's rules."""

from __future__ import annotations

import pytest

from dockyard.domain.errors import Invalid
from dockyard.domain.source import GitSource, check_ref, looks_like_commit


@pytest.mark.parametrize(
    "url",
    ["file:///srv/git/web.git", "http://git.internal/web.git", "https://git.internal:8443/a/b"],
)
def test_file_and_http_urls_are_accepted(url: str) -> None:
    assert GitSource(repo_url=url).repo_url == url


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"repo_url": "ssh://git@host/web.git"}, "repo_url"),
        ({"repo_url": "/srv/git/web.git"}, "repo_url"),
        ({"repo_url": "file://"}, "repo_url"),
        ({"repo_url": "https://host/a b"}, "repo_url"),
        ({"repo_url": "file:///r", "branch": "a..b"}, "branch"),
        ({"repo_url": "file:///r", "branch": "-rf"}, "branch"),
        ({"repo_url": "file:///r", "branch": "x.lock"}, "branch"),
        ({"repo_url": "file:///r", "dockerfile": "../Dockerfile"}, "dockerfile"),
        ({"repo_url": "file:///r", "dockerfile": "/etc/Dockerfile"}, "dockerfile"),
        ({"repo_url": "file:///r", "context": "a/../../b"}, "context"),
    ],
)
def test_a_bad_source_is_refused_naming_its_field(kwargs: dict[str, str], field: str) -> None:
    with pytest.raises(Invalid) as refused:
        GitSource(**kwargs)
    assert refused.value.field == field


def test_paths_are_normalised() -> None:
    source = GitSource(repo_url="file:///r", dockerfile="./docker//Dockerfile", context="svc/")
    assert (source.dockerfile, source.context) == ("docker/Dockerfile", "svc")


@pytest.mark.parametrize("ref", ["main", "release/1.2", "v1.2.3", "abc1234", "feature_x-2"])
def test_usual_refs_pass(ref: str) -> None:
    assert check_ref(ref) == ref


@pytest.mark.parametrize("ref", ["", "a b", "a~1", "a^", "a:b", "x@{1}", "/main", "main/", "a//b"])
def test_refs_git_would_refuse_are_invalid(ref: str) -> None:
    with pytest.raises(Invalid):
        check_ref(ref)


@pytest.mark.parametrize(
    ("ref", "commit"), [("abc1", True), ("abc", False), ("ABCD", False), ("main", False)]
)
def test_only_hex_of_four_or_more_looks_like_a_commit(ref: str, commit: bool) -> None:
    assert looks_like_commit(ref) is commit
