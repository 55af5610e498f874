"""Declared log files and the multi-line rule in a service's spec: what a service may declare,
what it may not (and the message it gets), and that templates stored before them keep their
hash."""

from __future__ import annotations

import pytest

from dockyard.domain.errors import Invalid
from dockyard.domain.logfiles import MAX_LOG_PATHS, LogMultiline, log_dirs, split_log_path
from dockyard.domain.spec import ServiceSpec


@pytest.mark.parametrize(
    ("path", "directory", "name"),
    [
        ("/app/logs/*.log", "/app/logs", "*.log"),
        ("/app/logs/app.log", "/app/logs", "app.log"),
        ("/var/log/nginx/access.log", "/var/log/nginx", "access.log"),
        ("/srv/app-[0-9].log", "/srv", "app-[0-9].log"),
        ("/data/*", "/data", "*"),
    ],
)
def test_declared_path_splits_into_its_mounted_directory_and_file_pattern(
    path: str, directory: str, name: str
) -> None:
    assert split_log_path(path) == (directory, name)


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("", "must not be empty"),
        ("logs/app.log", "is relative"),
        ("./app.log", "is relative"),
        ("/app/../etc/app.log", "'..'"),
        ("/app/./app.log", "'.'"),
        ("/app//app.log", "empty"),
        ("/app/logs/", "empty"),
        ("/app/*/app.log", "glob in its directory"),
        ("/app/log?/app.log", "glob in its directory"),
        ("/app.log", "system directory /"),
        ("/proc/self/fd/1", "system directory /proc/self/fd"),
        ("/sys/app.log", "system directory /sys"),
        ("/dev/stdout", "system directory /dev"),
        ("/etc/app.log", "system directory /etc"),
        ("/etc/nginx/error.log", "system directory /etc/nginx"),
        ("/usr/app.log", "system directory /usr"),
        ("/app/logs/a\nb.log", "control character"),
        ("/app/" + "x" * 600, "longer than"),
    ],
)
def test_undeclarable_path_is_refused_with_what_to_do(path: str, says: str) -> None:
    with pytest.raises(Invalid, match=r"log path|empty") as caught:
        ServiceSpec(image="busybox:1", log_paths=(path,))
    assert says in str(caught.value)
    assert caught.value.field == "log_paths"


def test_too_many_or_repeated_paths_are_refused() -> None:
    many = tuple(f"/app/logs{i}/*.log" for i in range(MAX_LOG_PATHS + 1))
    with pytest.raises(Invalid, match=f"at most {MAX_LOG_PATHS} log paths"):
        ServiceSpec(image="busybox:1", log_paths=many)
    with pytest.raises(Invalid, match="listed twice"):
        ServiceSpec(image="busybox:1", log_paths=("/app/a.log", "/app/a.log"))


def test_paths_in_one_directory_share_one_mount() -> None:
    paths = ("/app/logs/*.log", "/app/audit/a.log", "/app/logs/*.txt")
    assert log_dirs(paths) == ("/app/logs", "/app/audit")


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ({"start": ""}, "1-256 characters"),
        ({"start": "x" * 300}, "1-256 characters"),
        ({"start": "^(unclosed"}, "not a regular expression"),
        ({"start": "^\\d", "max_bytes": 10}, "max_bytes"),
        ({"start": "^\\d", "max_bytes": 2 * 1024 * 1024}, "max_bytes"),
        ({"start": "^\\d", "max_wait_s": 0}, "max_wait_s"),
        ({"start": "^\\d", "max_wait_s": 3600}, "max_wait_s"),
    ],
)
def test_bad_multiline_rule_is_refused(rule: dict[str, object], says: str) -> None:
    with pytest.raises(Invalid, match=says) as caught:
        ServiceSpec.from_json({"image": "busybox:1", "log_multiline": rule})
    assert caught.value.field == "log_multiline"


def test_spec_with_log_files_survives_its_json() -> None:
    spec = ServiceSpec(
        image="busybox:1",
        log_paths=("/app/logs/*.log",),
        log_multiline=LogMultiline(start=r"^\d{4}-", max_bytes=4096, max_wait_s=0.5),
    )
    assert ServiceSpec.from_json(spec.to_json()) == spec
    assert ServiceSpec.from_json({"image": "busybox:1", "log_multiline": "^E"}).log_multiline == (
        LogMultiline(start="^E")
    )


def test_templates_without_log_files_keep_their_hash_and_log_files_change_it() -> None:
    plain = ServiceSpec(image="busybox:1")
    stored_before = {k: v for k, v in plain.to_json().items() if not k.startswith("log_")}
    assert ServiceSpec.from_json(stored_before).template_hash == plain.template_hash
    declared = ServiceSpec(image="busybox:1", log_paths=("/app/logs/*.log",))
    joined = ServiceSpec(image="busybox:1", log_multiline=LogMultiline(start="^E"))
    assert len({plain.template_hash, declared.template_hash, joined.template_hash}) == 3
