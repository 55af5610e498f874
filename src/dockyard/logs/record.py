"""One log line, the source it came from, and the batch that carries lines on the stream.

A *source* is one file the agent follows for one instance: the container's Docker json-file log
(`channel="console"`, whose lines say stdout or stderr) or one declared log file inside the
container (`channel` = its path there). Each source numbers its lines 1, 2, 3 ... without gaps,
for the life of the source; the number is checkpointed with the file offset, so an agent that
restarts re-reads a line under the same number. That number is what makes delivery exactly
once: a batch id is `source key + first number`, which JetStream drops as a duplicate inside
its window, and every consumer also ignores lines at or below the highest number it already
holds for the source (batches re-read after a crash may be cut at other places).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid

CONSOLE = "console"
SUBJECT_ROOT = "dockyard.logs"
FORMAT = 1  # the batch encoding's version, carried in every message
BUILD_ENV: Literal["build"] = "build"
"""The pseudo-environment of build logs (logs/build_lines.py): the log center's only
environment that is not one a service is deployed to."""

LogEnv = Environment | Literal["build"]
"""The environment token of a log source: one of the four, or BUILD_ENV."""


def parse_env(value: str) -> LogEnv:
    """`value` as a log environment; Invalid (field "env") naming the choices otherwise."""
    if value == BUILD_ENV:
        return BUILD_ENV
    try:
        return Environment(value)
    except ValueError:
        names = ", ".join([*(e.value for e in Environment), BUILD_ENV])
        raise Invalid(f"unknown environment {value!r}: use one of {names}", field="env") from None


@dataclass(frozen=True)
class Source:
    """Where lines come from: one instance's console or one of its declared log files."""

    team: str
    service: str
    env: LogEnv
    instance: str
    channel: str = CONSOLE
    host: str = ""

    @property
    def key(self) -> str:
        """A stable id for checkpoints and message ids (the host is not part of it: an
        instance lives on one host)."""
        return f"{self.team}/{self.service}/{self.env}/{self.instance}/{self.channel}"

    @property
    def subject(self) -> str:
        """The stream subject: consumers select by team, service, environment or instance."""
        return f"{SUBJECT_ROOT}.{self.team}.{self.service}.{self.env}.{self.instance}"


@dataclass(frozen=True)
class Line:
    """One record (a multi-line record joined into one) as read from a source.

    `stream` is `stdout` or `stderr` for the console, the file's path for a declared file.
    `time_ns` is when it was written (Docker's timestamp), else when it was read.
    `cut` counts the bytes dropped because the record was longer than the line limit.
    `text` is valid Unicode: sources decode with replacement, so invalid UTF-8 arrives as U+FFFD.
    """

    seq: int
    time_ns: int
    stream: str
    text: str
    cut: int = 0


@dataclass(frozen=True)
class Batch:
    """Consecutive lines of one source, as one stream message."""

    source: Source
    lines: tuple[Line, ...]

    def __post_init__(self) -> None:
        if not self.lines:
            raise Invalid("a batch carries at least one line", field="lines")
        first = self.lines[0].seq
        if [line.seq for line in self.lines] != list(range(first, first + len(self.lines))):
            raise Invalid("a batch's line numbers must be consecutive", field="lines")

    @property
    def first_seq(self) -> int:
        return self.lines[0].seq

    @property
    def last_seq(self) -> int:
        return self.lines[-1].seq

    @property
    def count(self) -> int:
        """How many lines the batch carries (as raw.RawBatch.count)."""
        return len(self.lines)

    @property
    def msg_id(self) -> str:
        """JetStream's deduplication id: the same lines re-sent get the same id."""
        return f"{self.source.key}#{self.first_seq}"

    def encode(self) -> bytes:
        s = self.source
        body: dict[str, Any] = {
            "v": FORMAT,
            "src": [s.team, s.service, str(s.env), s.instance, s.channel, s.host],
            "lines": [[ln.seq, ln.time_ns, ln.stream, ln.text, ln.cut] for ln in self.lines],
        }
        # The same bytes as json.dumps(ensure_ascii=False, separators=(",", ":")), several times
        # faster (the agent's hot path); what orjson refuses (a lone surrogate, which sources
        # never make) goes the standard library's way, with its outcome.
        try:
            return orjson.dumps(body)
        except TypeError:
            return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def of_body(cls, body: dict[str, Any]) -> Batch:
        """The batch in a decoded message of this format (logs/wire.decode reads a message and
        says which format it is); Invalid if it is not one."""
        try:
            team, service, env, instance, channel, host = body["src"]
            source = Source(team, service, parse_env(env), instance, channel, host)
            lines = tuple(
                Line(int(seq), int(t), str(stream), str(text), int(cut))
                for seq, t, stream, text, cut in body["lines"]
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise Invalid(f"not a log batch: {exc}") from exc
        return cls(source, lines)
