"""How the CLI prints: exact API JSON with `-o json`, Rich tables otherwise, errors on stderr."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

# Off a terminal (pipes, CI logs, tests) Rich would wrap tables at 80 columns; lines are cheap.
PIPE_WIDTH = 200


class OutputFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


def console() -> Console:
    """A console on the current stdout (looked up per call, so test runners can capture it)."""
    terminal = Console(highlight=False)
    return terminal if terminal.is_terminal else Console(highlight=False, width=PIPE_WIDTH)


def print_json(data: Any) -> None:
    """The data as the API returned it: plain, indented JSON, no colours."""
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


def say(message: str, *, style: str | None = None) -> None:
    """One line of prose on stdout, never re-wrapped and never read as markup."""
    console().print(message, style=style, markup=False, soft_wrap=True)


def warn(message: str) -> None:
    typer.echo(message, err=True)


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[dict[str, Any]], object]
    justify: str = "left"


def print_table(rows: Iterable[dict[str, Any]], columns: Sequence[Column], *, empty: str) -> None:
    """One row per item; `empty` is printed instead of an empty table."""
    items = list(rows)
    if not items:
        say(empty, style="dim")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in columns:
        table.add_column(column.header, justify=column.justify)  # type: ignore[arg-type]
    for item in items:
        table.add_row(*(_cell(column.value(item)) for column in columns))
    console().print(table)


def print_fields(pairs: Sequence[tuple[str, object]]) -> None:
    """A two-column `name  value` block for one object."""
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for name, value in pairs:
        table.add_row(name, _cell(value))
    console().print(table)


def show(data: Any, fmt: OutputFormat, render: Callable[[Any], None]) -> None:
    """Print `data` as JSON or through `render`, as the user asked."""
    if fmt is OutputFormat.JSON:
        print_json(data)
    else:
        render(data)


def when(value: object) -> str:
    """An ISO 8601 time as `YYYY-MM-DD HH:MM:SS` (UTC); `-` for none."""
    if not isinstance(value, str) or not value:
        return "-"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _cell(value: object) -> Text:
    # Text, not a str: data from the API is never read as Rich markup.
    if value is None:
        return Text("-")
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    return Text(str(value))
