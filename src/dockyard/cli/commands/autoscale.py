"""`autoscale`: set, show, pause, resume or turn off one environment's autoscaling.

`dockyard autoscale web --env test --min 1 --max 10 --cpu 70` sets a policy; without policy
options it shows the policy, the autoscaler's state (active, paused or holding, and why) and
its latest decisions.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from dockyard.cli.client import api_path
from dockyard.cli.context import session
from dockyard.cli.options import Output, Team
from dockyard.cli.output import Column, OutputFormat, print_fields, print_table, say, show, when
from dockyard.domain.environment import Environment

_SECONDS = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(s|m)?$")


def seconds(text: str, *, option: str) -> float:
    """`60s`, `2m` or `45` (seconds) as seconds; typer.BadParameter naming `option`."""
    found = _SECONDS.match(text.strip())
    if found is None:
        raise typer.BadParameter(
            f"{text!r} is not a duration: use e.g. 60s or 2m", param_hint=option
        )
    return float(found.group(1)) * (60 if found.group(2) == "m" else 1)


DECISIONS = (
    Column("AT", lambda d: when(d["at"])),
    Column("REV", lambda d: d["revision"], justify="right"),
    Column("FROM", lambda d: d["from_replicas"], justify="right"),
    Column("TO", lambda d: d["to_replicas"], justify="right"),
    Column("FIGURE", lambda d: f"{d['figure']:.0f} % of target", justify="right"),
    Column("REASON", lambda d: d["reason"]),
)


def autoscale(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    *,
    env: Annotated[Environment, typer.Option("--env", "-e", help="The environment.")] = (
        Environment.TEST
    ),
    min_replicas: Annotated[
        int | None, typer.Option("--min", min=0, help="Fewest instances.")
    ] = None,
    max_replicas: Annotated[
        int | None, typer.Option("--max", min=1, help="Most instances.")
    ] = None,
    cpu: Annotated[
        float | None, typer.Option("--cpu", help="Target: CPU % of each instance's limit.")
    ] = None,
    memory: Annotated[
        float | None, typer.Option("--memory", help="Target: memory % of each instance's limit.")
    ] = None,
    up_step: Annotated[
        str | None, typer.Option("--up-step", help="Most added at once: 4 or 100% (default).")
    ] = None,
    down_step: Annotated[
        str | None, typer.Option("--down-step", help="Most removed at once: 1 (default) or 50%.")
    ] = None,
    window: Annotated[
        str | None, typer.Option("--window", help="Figures averaged over (6s).")
    ] = None,
    up_window: Annotated[
        str | None, typer.Option("--up-window", help="Up stabilisation (0s).")
    ] = None,
    down_window: Annotated[
        str | None, typer.Option("--down-window", help="Down stabilisation (60s).")
    ] = None,
    pause: Annotated[bool, typer.Option("--pause", help="Stop scaling until --resume.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Scale again.")] = False,
    off: Annotated[bool, typer.Option("--off", help="Remove the policy.")] = False,
    team: Team = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """Set (with --min/--max and --cpu or --memory), show, pause, resume or turn off the
    autoscaling of SERVICE in one environment."""
    s = session(ctx)
    path = api_path("teams", s.team(team), "services", service, "autoscaling")
    query = f"?env={env.value}"
    client = s.client()
    if sum((pause, resume, off)) > 1:
        raise typer.BadParameter("give one of --pause, --resume and --off", param_hint="--pause")
    if off:
        client.delete(path + query)
        say(f"autoscaling of {service} in {env.value} is off; its instances stay as they are")
        return
    if pause or resume:
        answer = client.post(path + ("/pause" if pause else "/resume") + query, {})
    else:
        body = _body(
            min_replicas=min_replicas, max_replicas=max_replicas, cpu=cpu, memory=memory,
            up_step=up_step, down_step=down_step, window=window, up_window=up_window,
            down_window=down_window,
        )  # fmt: skip
        if body is None:
            answer = client.get(path, params={"env": env.value})
        else:
            answer = client.put(path + query, body)
    show(answer, output, print_autoscaling)


def _body(
    *,
    min_replicas: int | None,
    max_replicas: int | None,
    cpu: float | None,
    memory: float | None,
    up_step: str | None,
    down_step: str | None,
    window: str | None,
    up_window: str | None,
    down_window: str | None,
) -> dict[str, Any] | None:
    """The PUT body the options ask for; None if they set nothing (then it is a show)."""
    given = (min_replicas, max_replicas, cpu, memory, up_step, down_step, window, up_window,
             down_window)  # fmt: skip
    if all(value is None for value in given):
        return None
    if min_replicas is None or max_replicas is None or (cpu is None) == (memory is None):
        raise typer.BadParameter(
            "a policy needs --min, --max and one target, --cpu or --memory", param_hint="--min"
        )
    body: dict[str, Any] = {
        "min": min_replicas,
        "max": max_replicas,
        "metric": "cpu" if cpu is not None else "memory",
        "target_percent": cpu if cpu is not None else memory,
    }
    for key, value in (("up_step", up_step), ("down_step", down_step)):
        if value is not None:
            body[key] = value
    for key, text, option in (
        ("window_s", window, "--window"), ("up_window_s", up_window, "--up-window"),
        ("down_window_s", down_window, "--down-window"),
    ):  # fmt: skip
        if text is not None:
            body[key] = seconds(text, option=option)
    return body


def state_line(a: dict[str, Any]) -> str:
    """`active`, `paused: why` or `holding: why`."""
    if a["state"] == "paused":
        return f"paused: {a['paused']}"
    return a["status"] if a["state"] == "holding" else f"active ({a['status'] or 'starting'})"


def policy_line(a: dict[str, Any]) -> str:
    return (
        f"{a['min']}-{a['max']} instances, {a['metric']} {a['target_percent']:g} % of the limit; "
        f"steps +{a['up_step']} -{a['down_step']}; windows {a['window_s']:g}s, "
        f"up {a['up_window_s']:g}s, down {a['down_window_s']:g}s; "
        f"panic over {a['panic_window_s']:g}s at {a['panic_factor']:g}x"
    )


def print_autoscaling(a: dict[str, Any]) -> None:
    print_fields(
        [
            ("autoscaling", f"{a['team']}/{a['service']} in {a['env']}"),
            ("policy", policy_line(a)),
            ("state", state_line(a)),
            ("since", when(a["status_at"])),
            ("set by", f"{a['updated_by']} at {when(a['updated_at'])}"),
        ]
    )
    print_table(a["decisions"], DECISIONS, empty="no decisions yet")


def register(app: typer.Typer) -> None:
    app.command("autoscale")(autoscale)
