"""The pure parts of hosted git remotes, by table: request paths, credentials, CGI heads,
the side band added to a push's answer, and the file:// source policy."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from dockyard.api.git_access import RECEIVE, UPLOAD, GitCall, parse_git_path, token_of
from dockyard.domain.errors import Invalid, NotFound
from dockyard.images.git_http import CgiHead, CgiRequest, cgi_env, parse_cgi_head, split_head
from dockyard.images.sideband import FLUSH, PushTail, pkt_line, progress
from dockyard.images.sources import file_path, refusal

# -- request paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method", "query", "expected"),
    [
        ("shop/web.git/info/refs", "GET", "service=git-upload-pack",
         GitCall("shop", "web", UPLOAD, advertisement=True)),
        ("shop/web/info/refs", "GET", "service=git-receive-pack",
         GitCall("shop", "web", RECEIVE, advertisement=True)),
        ("shop/web.git/git-upload-pack", "POST", "", GitCall("shop", "web", UPLOAD, False)),
        ("shop/web.git/git-receive-pack", "POST", "", GitCall("shop", "web", RECEIVE, False)),
    ],
)  # fmt: skip
def test_smart_protocol_requests_name_their_team_service_and_rpc(
    path: str, method: str, query: str, expected: GitCall
) -> None:
    assert parse_git_path(path, method=method, query=query) == expected


@pytest.mark.parametrize(
    ("path", "method", "query"),
    [
        ("shop/web.git/info/refs", "GET", ""),  # the dumb protocol
        ("shop/web.git/info/refs", "GET", "service=git-upload-archive"),
        ("shop/web.git/info/refs", "GET", "service=git-upload-pack&service=git-receive-pack"),
        ("shop/web.git/HEAD", "GET", ""),
        ("shop/web.git/objects/info/packs", "GET", ""),
        ("shop/web.git/git-upload-pack", "GET", ""),
        ("shop/web.git/info/refs", "POST", "service=git-upload-pack"),
        ("shop/web.git", "GET", ""),
        ("../web.git/info/refs", "GET", "service=git-upload-pack"),
        ("shop/..%2fweb.git/git-upload-pack", "POST", ""),
        ("Shop/web.git/git-upload-pack", "POST", ""),
        ("shop/web.git.git/git-upload-pack", "POST", ""),
        ("shop/web.git/../../x/git-upload-pack", "POST", ""),
    ],
)
def test_anything_else_is_not_found(path: str, method: str, query: str) -> None:
    with pytest.raises(NotFound):
        parse_git_path(path, method=method, query=query)


def test_the_path_handed_to_http_backend_always_ends_in_dot_git() -> None:
    call = parse_git_path("shop/web/git-receive-pack", method="POST", query="")
    assert call.path_info == "/shop/web.git/git-receive-pack"
    advert = parse_git_path("shop/web/info/refs", method="GET", query="service=git-upload-pack")
    assert advert.path_info == "/shop/web.git/info/refs"


def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (_basic("git:dy_secret"), "dy_secret"),
        (_basic("anyone:dy_secret:with-colon"), "dy_secret:with-colon"),
        (_basic("dy_secret:"), "dy_secret"),  # https://TOKEN@host/...
        (_basic("dy_secret"), "dy_secret"),
        ("basic " + base64.b64encode(b"x:dy_t").decode(), "dy_t"),
        ("Bearer dy_secret", "dy_secret"),
        (_basic(":"), None),
        ("Basic !!!not-base64", None),
        ("Basic " + base64.b64encode(b"x:\xff").decode(), None),
        ("Digest username=x", None),
        ("Bearer ", None),
        ("", None),
        (None, None),
    ],
)
def test_the_token_is_the_basic_password_or_the_bearer(
    header: str | None, token: str | None
) -> None:
    assert token_of(header) == token


# -- CGI ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"Content-Type: application/x-git-upload-pack-result\r\nExpires: Fri, 01 Jan 1980",
         CgiHead(200, (("Content-Type", "application/x-git-upload-pack-result"),
                       ("Expires", "Fri, 01 Jan 1980")))),
        (b"Status: 404 Not Found\r\nContent-Type: text/plain",
         CgiHead(404, (("Content-Type", "text/plain"),))),
        (b"status: 403\nCache-Control: no-cache", CgiHead(403, (("Cache-Control", "no-cache"),))),
        (b"", CgiHead(200, ())),
        (b"X-Empty:", CgiHead(200, (("X-Empty", ""),))),
    ],
)  # fmt: skip
def test_a_cgi_head_gives_status_and_headers(raw: bytes, expected: CgiHead) -> None:
    assert parse_cgi_head(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [b"no colon here", b"Status: abc", b"Status: 99 Low", b" Leading: space", b"Bad Name: x"],
)
def test_a_malformed_cgi_head_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        parse_cgi_head(raw)


@pytest.mark.parametrize(
    ("buffer", "expected"),
    [
        (b"A: 1\r\n\r\nbody", (b"A: 1", b"body")),
        (b"A: 1\n\nbody\r\n\r\nmore", (b"A: 1", b"body\r\n\r\nmore")),
        (b"A: 1\r\n\r\n", (b"A: 1", b"")),
        (b"A: 1\r\nB: 2\r\n", None),
        (b"", None),
    ],
)
def test_the_head_ends_at_the_first_blank_line(
    buffer: bytes, expected: tuple[bytes, bytes] | None
) -> None:
    assert split_head(buffer) == expected


def test_the_cgi_environment_carries_the_request_and_nothing_of_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKYARD_SECRET", "do-not-leak")
    request = CgiRequest(
        method="POST", path_info="/shop/web.git/git-upload-pack", content_type="x/y",
        content_encoding="gzip", content_length=12, remote_user="shop/ci",
        git_protocol="version=2",
    )  # fmt: skip
    env = cgi_env(request, project_root=Path("/srv/git"))
    assert "DOCKYARD_SECRET" not in env
    assert env["GIT_PROJECT_ROOT"] == "/srv/git"
    assert env["PATH_INFO"] == "/shop/web.git/git-upload-pack"
    assert env["CONTENT_LENGTH"] == "12" and env["HTTP_CONTENT_ENCODING"] == "gzip"
    assert env["HTTP_GIT_PROTOCOL"] == "version=2" and env["REMOTE_USER"] == "shop/ci"
    chunked = cgi_env(CgiRequest(method="POST", path_info="/a/b.git/x"), project_root=Path("/"))
    assert "CONTENT_LENGTH" not in chunked and "HTTP_CONTENT_ENCODING" not in chunked


# -- the side band ------------------------------------------------------------------------------

REPORT = pkt_line(b"\x01" + pkt_line(b"unpack ok\n") + pkt_line(b"ok refs/heads/main\n") + FLUSH)


def _through(tail: PushTail, answer: bytes, *, cut: int) -> bytes:
    return tail.feed(answer[:cut]) + tail.feed(answer[cut:])


@pytest.mark.parametrize("cut", [0, 1, 3, 5, len(REPORT), len(REPORT) + 2])
def test_messages_go_on_band_two_just_before_the_final_flush(cut: int) -> None:
    tail = PushTail()
    sent = _through(tail, REPORT + FLUSH, cut=cut)
    sent += tail.end(["dockyard: build 3 queued"])
    assert sent == REPORT + progress("dockyard: build 3 queued") + FLUSH
    assert progress("hi") == b"0008\x02hi\n"


@pytest.mark.parametrize(
    ("answer", "messages"),
    [
        (pkt_line(b"unpack ok\n") + pkt_line(b"ok refs/heads/main\n") + FLUSH, ["x"]),  # no band
        (REPORT + FLUSH, []),  # nothing to say
        (REPORT, ["x"]),  # no final flush: cut short
        (b"", ["x"]),
        (FLUSH, ["x"]),
        (FLUSH + REPORT + FLUSH, ["x"]),
        (b"0x1a" + REPORT + FLUSH, ["x"]),  # not pkt-lines
        (REPORT + b"\n" + FLUSH, ["x"]),
    ],
)
def test_an_answer_without_room_for_messages_passes_unchanged(
    answer: bytes, messages: list[str]
) -> None:
    tail = PushTail()
    assert _through(tail, answer, cut=2) + tail.end(messages) == answer


# -- the file:// source policy ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("file:///srv/sources/web", "/srv/sources/web"),
        ("file:///srv/sources//web/./", "/srv/sources/web"),
        ("file://localhost/srv/web", "/srv/web"),
        ("https://git.example.com/web.git", None),
        ("http://127.0.0.1/web.git", None),
    ],
)
def test_a_file_url_names_one_normalised_path(url: str, path: str | None) -> None:
    assert file_path(url) == path


@pytest.mark.parametrize(
    "url",
    [
        "file://otherhost/srv/web",
        "file:///srv/sources/../../etc",
        "file:///srv/sources/%2e%2e/etc",
        "file:///srv/web?x=1",
        "file:///srv/web#frag",
    ],
)
def test_a_file_url_that_could_hide_its_path_is_refused(url: str) -> None:
    with pytest.raises(Invalid):
        file_path(url)


ROOTS = ["/srv/sources", "/data/repos"]
HOSTED = "/var/lib/dockyard/git"


@pytest.mark.parametrize(
    ("path", "team", "trusted", "allowed"),
    [
        ("/srv/sources/web", "shop", False, True),
        ("/data/repos/shop/api.git", "shop", False, True),
        ("/srv/sources", "shop", False, True),
        ("/srv/sourcesevil/web", "shop", False, False),  # a prefix is not a parent
        ("/etc", "shop", False, False),
        ("/var/lib/dockyard/dockyard.db", "shop", False, False),
        ("/var/lib/dockyard/git/shop/web.git", "shop", False, True),  # the team's own
        ("/var/lib/dockyard/git/bank/web.git", "shop", False, False),  # another team's
        ("/var/lib/dockyard/git/shopping/web.git", "shop", False, False),
        ("/etc", "shop", True, True),  # the admin set it
    ],
)
def test_a_team_builds_only_under_a_root_or_from_its_hosted_repositories(
    path: str, team: str, trusted: bool, allowed: bool
) -> None:
    why = refusal(path, team=team, roots=ROOTS, hosted_dir=HOSTED, trusted=trusted)
    assert (why is None) == allowed
    if why is not None and not path.startswith(HOSTED):
        assert "/srv/sources, /data/repos" in why and "DOCKYARD_SOURCE_ROOTS" in why


def test_another_teams_hosted_repository_stays_refused_under_a_root() -> None:
    roots = ["/var/lib/dockyard"]
    mine = refusal(
        f"{HOSTED}/shop/web.git", team="shop", roots=roots, hosted_dir=HOSTED, trusted=False
    )
    theirs = refusal(
        f"{HOSTED}/bank/web.git", team="shop", roots=roots, hosted_dir=HOSTED, trusted=False
    )
    assert mine is None
    assert theirs is not None and "another team's hosted repository" in theirs


def test_with_no_roots_only_hosted_repositories_are_allowed() -> None:
    why = refusal("/srv/web", team="shop", roots=[], hosted_dir=HOSTED, trusted=False)
    assert why is not None and "none configured" in why
