"""Options shared by many commands, and the parsing of `K=V` arguments."""

from __future__ import annotations

from typing import Annotated

import typer

from dockyard.cli.output import OutputFormat
from dockyard.domain.environment import Environment

Output = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="table (default) or json: the API's JSON, unchanged."),
]
Team = Annotated[
    str | None,
    typer.Option("--team", "-t", help="Team owning the service; default: your token's team."),
]
Env = Annotated[Environment, typer.Option("--env", "-e", help="The environment.")]
Wait = Annotated[
    bool,
    typer.Option("--wait/--no-wait", help="Follow the rollout until it is available or failed."),
]
Timeout = Annotated[
    float,
    typer.Option("--timeout", help="Stop waiting after this many seconds (the rollout goes on)."),
]


def parse_pair(text: str, *, option: str) -> tuple[str, str]:
    """`KEY=VALUE` -> (KEY, VALUE); the value may be empty or hold more `=`.

    Raises typer.BadParameter (a usage error, exit code 2) naming the option.
    """
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise typer.BadParameter(
            f"{text!r} is not KEY=VALUE (e.g. {option} LOG_LEVEL=debug)", param_hint=option
        )
    return key, value


def parse_pairs(texts: list[str] | None, *, option: str) -> dict[str, str]:
    """Several `KEY=VALUE` arguments as a dict; a key given twice keeps its last value."""
    return dict(parse_pair(text, option=option) for text in texts or ())
