"""`logs`: search a service's logs, follow them live, show a line's context, download a range.

Every instance's stdout, stderr and declared log files reach the log center within seconds and
stay searchable after the instance is gone; a live tail follows the service, not a container,
so instances that a rollout starts join it and the ones it stops leave it.
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.text import Text

from dockyard.cli.commands.log_stats import show_log_stats
from dockyard.cli.commands.services import service_path
from dockyard.cli.context import Session, session
from dockyard.cli.errors import CliError
from dockyard.cli.moment import parse_moment
from dockyard.cli.options import Output, Team
from dockyard.cli.output import OutputFormat, console, print_json, say
from dockyard.domain.errors import Invalid
from dockyard.logs.build_lines import BUILD_CHANNEL
from dockyard.logs.record import BUILD_ENV, parse_env

Service = Annotated[str, typer.Argument(metavar="SVC", help="The service.")]
LogEnvOption = Annotated[
    str | None,
    typer.Option(
        "--env", "-e", help="The environment: test, sandbox, online, stable, or build (build logs)."
    ),
]
BuildOption = Annotated[
    int | None,
    typer.Option("--build", "-b", min=1, help="One build's log, by its number (env build)."),
]
# Colours that read on dark and light terminals; an instance keeps its colour across runs.
PALETTE = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta")


def logs(
    ctx: typer.Context,
    *,
    service: Service,
    env: LogEnvOption = None,
    build: BuildOption = None,
    query: Annotated[
        str | None,
        typer.Option(
            "--query", "-q", help='Words, "a phrase", -excluded, level:error (all must match).'
        ),
    ] = None,
    instance: Annotated[
        list[str] | None, typer.Option("--instance", "-i", help="Only this instance (repeat).")
    ] = None,
    stream: Annotated[
        str | None, typer.Option("--stream", help="stdout, stderr, or a declared file's path.")
    ] = None,
    level: Annotated[
        str | None, typer.Option("--level", help="Only lines of this level: error, warn, info.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="From this time: 15m, 2h, 3d or RFC 3339.")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Up to this time.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 100,
    oldest: Annotated[
        bool, typer.Option("--oldest", help="The oldest lines first (default: the newest).")
    ] = False,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Go on from where the last page ended.")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines as they come.")
    ] = False,
    context: Annotated[
        int | None,
        typer.Option("--context", "-C", min=1, max=500, help="N lines around --at INSTANCE:SEQ."),
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="The line for --context: INSTANCE:SEQ.")
    ] = None,
    download: Annotated[
        Path | None, typer.Option("--download", help="Write every matching line to this file.")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="Download as ndjson (default) or text.")
    ] = "ndjson",
    stats: Annotated[
        bool,
        typer.Option(
            "--stats", help="The service's log figures: read, sent, indexed, archived, lag, losses."
        ),
    ] = False,
    team: Team = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """Search the service's logs in ENV (newest last), follow them (-f), show the context of
    one line (--context N --at INSTANCE:SEQ), or download a time range (--download FILE);
    --stats shows how many lines were read, sent, indexed and archived, and any lost.
    `-e build` searches the service's build logs, `--build N` one build's."""
    current = session(ctx)
    now = datetime.now(UTC)
    params: dict[str, Any] = {
        "env": _log_env(env, build),
        "build": build,
        "q": query,
        "instance": instance or None,
        "stream": stream,
        "level": level,
        "since": _moment(since, now, "--since"),
        "until": _moment(until, now, "--until"),
    }
    base = service_path(current, team, service, "logs")
    if stats:
        show_log_stats(current, team=team, service=service, env=params["env"], output=output)
    elif context is not None or at is not None:
        _context(current, base, params, context=context or 20, at=at, output=output)
    elif download is not None:
        _download(current, base, params, into=download, fmt=fmt)
    elif follow:
        _follow(current, base, params, tail=limit, output=output)
    else:
        order = "oldest" if oldest else "newest"
        page = current.client().get(
            base, params={**params, "order": order, "limit": limit, "cursor": cursor}
        )
        _print_page(page, newest_first=not oldest, output=output, service=service)


def _log_env(env: str | None, build: int | None) -> str:
    """The environment to search: `env`, or `build` when a build is named."""
    if build is not None and env not in (None, BUILD_ENV):
        raise typer.BadParameter(
            f"--build {build} is a build's log, not {env}'s: leave --env out", param_hint="--env"
        )
    if build is not None:
        return BUILD_ENV
    if env is None:
        raise typer.BadParameter(
            "give the environment: --env test, sandbox, online, stable or build",
            param_hint="--env",
        )
    try:
        return str(parse_env(env))
    except Invalid as exc:
        raise typer.BadParameter(exc.message, param_hint="--env") from None


def _moment(text: str | None, now: datetime, option: str) -> str | None:
    return None if text is None else parse_moment(text, now=now, option=option).isoformat()


def _print_page(
    page: dict[str, Any], *, newest_first: bool, output: OutputFormat, service: str
) -> None:
    if output is OutputFormat.JSON:
        print_json(page)
        return
    items = page["items"]
    if not items:
        say("no lines match (new lines take a second or two to become searchable)", style="dim")
        return
    for item in reversed(items) if newest_first else items:
        print_line(item)
    if page.get("next"):
        word = "older" if newest_first else "newer"
        say(f"… {word} lines: add --cursor {page['next']}", style="dim")


def print_line(item: dict[str, Any]) -> None:
    """One line: time (UTC, ms), its instance in that instance's colour, its text; stderr and
    declared files are marked, cut lines say how much was cut."""
    line = Text(_short_time(item["time_ns"]) + " ", style="dim")
    name = str(item["instance"])
    line.append(name, style=PALETTE[zlib.crc32(name.encode()) % len(PALETTE)])
    stream = item.get("stream")
    if stream and stream != "stdout":
        line.append(
            " [stderr]" if stream == "stderr" else f" [{stream}]",
            style="red" if stream == "stderr" else "dim",
        )
    line.append(" " + str(item["text"]))
    console().print(line, soft_wrap=True, highlight=False)


def _short_time(time_ns: int) -> str:
    moment = datetime.fromtimestamp(time_ns / 1e9, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _follow(
    current: Session, base: str, params: dict[str, Any], *, tail: int, output: OutputFormat
) -> None:
    """Print the last `tail` lines, then new ones as the server sends them, until Ctrl-C."""
    try:
        for event in current.client().events(base + "/follow", params={**params, "tail": tail}):
            if output is OutputFormat.JSON:
                typer.echo(json.dumps({"event": event.name, "data": json.loads(event.data)}))
            elif event.name == "line":
                print_line(json.loads(event.data))
            elif event.name == "error":
                raise CliError(f"the live tail stopped: {json.loads(event.data)['message']}")
            elif event.name == "dropped":
                dropped = json.loads(event.data)
                say(
                    f"… {dropped['count']:,} lines dropped by {dropped['reason']} …", style="yellow"
                )
    except KeyboardInterrupt:
        return
    raise CliError("the server ended the live tail: run the command again to go on following")


def _context(
    current: Session,
    base: str,
    params: dict[str, Any],
    *,
    context: int,
    at: str | None,
    output: OutputFormat,
) -> None:
    name, sep, seq = (at or "").rpartition(":")
    if not sep or not name or not seq.isdigit():
        raise typer.BadParameter(
            f"{at!r} is not INSTANCE:SEQ (each line's instance and number are in `-o json`)",
            param_hint="--at",
        )
    answer = current.client().get(
        base + "/context",
        params={
            "env": params["env"],
            "channel": BUILD_CHANNEL if params["env"] == BUILD_ENV else None,
            "instance": name,
            "seq": int(seq),
            "n": context,
            "stream": params["stream"],
        },
    )
    if output is OutputFormat.JSON:
        print_json(answer)
        return
    for item in answer["items"]:
        print_line(item)


def _download(current: Session, base: str, params: dict[str, Any], *, into: Path, fmt: str) -> None:
    if fmt not in ("ndjson", "text"):
        raise typer.BadParameter(
            f"{fmt!r} is not a format: use ndjson or text", param_hint="--format"
        )
    partial = into.with_name(into.name + ".partial")
    columns = (TextColumn("downloading"), DownloadColumn(), TransferSpeedColumn())
    try:
        with (
            Progress(*columns, console=console(), transient=True) as bar,
            partial.open("wb") as out,
        ):
            task = bar.add_task("download", total=None)
            size = current.client().download(
                base + "/download",
                params={**params, "format": fmt},
                into=out,
                progress=lambda done: bar.update(task, completed=done),
            )
    except BaseException:
        partial.unlink(missing_ok=True)  # nothing half-written is left behind
        raise
    partial.replace(into)  # a file under the asked name is always complete
    say(f"wrote {size:,} bytes to {into}")


def register(app: typer.Typer) -> None:
    app.command()(logs)
