""".dockerignore as `docker build` applies it (moby's patternmatcher), by a table of patterns
and paths; the cases follow Docker's own documentation of the file."""

from __future__ import annotations

import pytest

from dockyard.images.dockerignore import excluded, parse

CASES = [
    # (the file's lines, path, left out?)
    (["*/temp*"], "somedir/temporary.txt", True),
    (["*/temp*"], "somedir/temp", True),
    (["*/temp*"], "temp.txt", False),  # `*` is one directory level, never none
    (["*/*/temp*"], "a/b/temp.txt", True),
    (["*/*/temp*"], "a/temp.txt", False),
    (["temp?"], "tempa", True),
    (["temp?"], "temp", False),
    (["temp?"], "temp/x", False),
    (["**/*.go"], "main.go", True),
    (["**/*.go"], "a/b/c.go", True),
    (["**/*.go"], "a/b/c.gox", False),
    (["a/**/b"], "a/b", True),
    (["a/**/b"], "a/x/y/b", True),
    (["a/**/b"], "ab", False),
    (["**"], "any/thing/at/all", True),
    (["*.md", "!README.md"], "notes.md", True),
    (["*.md", "!README.md"], "README.md", False),
    (["*.md", "!README.md"], "docs/notes.md", False),  # `*.md` is the root's only
    (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
    (["*.md", "!README*.md", "README-secret.md"], "README-public.md", False),
    (["docs"], "docs", True),
    (["docs"], "docs/deep/file.txt", True),  # under an excluded directory
    (["docs"], "documents/file.txt", False),
    (["docs", "!docs/keep.md"], "docs/keep.md", False),
    (["docs", "!docs/keep.md"], "docs/other.md", True),
    (["/build"], "build/out.o", True),  # a leading / means the context's root, as without
    (["./build/"], "build/out.o", True),  # cleaned like a path
    (["# a comment", "", "   ", "secret.txt  "], "secret.txt", True),
    (["# a comment"], "# a comment", False),
    (["[a-c].txt"], "b.txt", True),
    (["[a-c].txt"], "d.txt", False),
    (["[^a].txt"], "b.txt", True),
    (["[^a].txt"], "a.txt", False),
    (["\\*.txt"], "*.txt", True),
    (["\\*.txt"], "a.txt", False),
    (["a.b"], "axb", False),  # `.` is a dot, not any character
    (["(x)+"], "(x)+", True),
    (["!secret.txt"], "secret.txt", False),  # an exception alone excludes nothing
]


@pytest.mark.parametrize(("lines", "path", "left_out"), CASES)
def test_a_path_is_left_out_as_docker_build_leaves_it(
    lines: list[str], path: str, left_out: bool
) -> None:
    assert excluded(path, parse("\n".join(lines))) is left_out


def test_a_pattern_docker_would_refuse_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\.dockerignore pattern '\[a-' is not valid"):
        parse("ok\n[a-\n")
