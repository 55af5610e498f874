"""`services` (list) and `service create|show|update|delete`: a team's service templates."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dockyard.cli.client import api_path
from dockyard.cli.commands.autoscale import policy_line, state_line
from dockyard.cli.commands.environments import limits_text, template_limits_text
from dockyard.cli.context import Session, session
from dockyard.cli.options import Output, Team, parse_pairs
from dockyard.cli.output import (
    Column,
    OutputFormat,
    print_fields,
    print_table,
    say,
    show,
    when,
)
from dockyard.cli.spec import SpecOptions, spec_patch
from dockyard.domain.lograte import BURST_S

service_app = typer.Typer(help="Create, show, update or delete one service.", no_args_is_help=True)

PAGE = 100

COLUMNS = (
    Column("NAME", lambda s: s["name"] + (" (deleting)" if s.get("deleting") else "")),
    Column("IMAGE", lambda s: s["spec"].get("image")),
    Column("PORTS", lambda s: ports_text(s["spec"])),
    Column("CPUS", lambda s: _own_limit(s["spec"], "cpus"), "right"),
    Column("MEMORY MB", lambda s: _own_limit(s["spec"], "memory_mb"), "right"),
    Column("UPDATED", lambda s: when(s.get("updated_at"))),
)

ENV_COLUMNS = (
    Column("ENV", lambda e: e["env"]),
    Column("REVISION", lambda e: (e.get("current") or {}).get("number"), "right"),
    Column("IMAGE", lambda e: (e.get("current") or {}).get("image")),
    Column("READY", lambda e: f"{e['status'].get('ready', 0)}/{e['status'].get('desired', 0)}"),
    Column("PHASE", lambda e: e["status"].get("phase")),
    Column("MESSAGE", lambda e: e["status"].get("message") or ""),
)


def _own_limit(spec: dict[str, Any], name: str) -> object:
    """The template's own limit, or `default` when it follows the environment's."""
    value = (spec.get("resources") or {}).get(name)
    return "default" if value is None else value


def ports_text(spec: dict[str, Any]) -> str:
    return ", ".join(
        f"{p['container_port']}/{p.get('protocol', 'tcp')}" for p in spec.get("ports") or ()
    )


def service_path(current: Session, team: str | None, name: str, *rest: str) -> str:
    return api_path("teams", current.team(team), "services", name, *rest)


def list_services(
    ctx: typer.Context, team: Team = None, output: Output = OutputFormat.TABLE
) -> None:
    """List a team's services (all pages)."""
    current = session(ctx)
    path = api_path("teams", current.team(team), "services")
    items: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = current.client().get(path, params={"limit": PAGE, "after": after})
        items.extend(page["items"])
        after = page.get("next")
        if not after:
            break
    answer = {"items": items, "next": None}
    show(answer, output, lambda a: print_table(a["items"], COLUMNS, empty="no services yet"))


# The options of create and update, declared once.
Image = Annotated[str | None, typer.Option("--image", "-i", help="Image reference.")]
Ports = Annotated[
    list[str] | None, typer.Option("--port", "-p", help="Container port: 8080 or 53/udp (repeat).")
]
EnvVars = Annotated[
    list[str] | None, typer.Option("--env", help="Environment variable KEY=VALUE (repeat).")
]
Cpus = Annotated[float | None, typer.Option("--cpus", help="CPU cores per instance, e.g. 0.5.")]
MemoryMb = Annotated[int | None, typer.Option("--memory-mb", help="Memory per instance in MiB.")]
Pids = Annotated[int | None, typer.Option("--pids", help="Processes (and threads) per instance.")]
DefaultLimit = Annotated[
    list[str] | None,
    typer.Option(
        "--default-limit",
        help="Leave this limit (cpus, memory_mb, pids) to the environment's default, which "
        "the platform team sets (repeat). A limit never given is left to it too.",
    ),
]
HealthHttp = Annotated[str | None, typer.Option("--health-http", help="HTTP GET path, e.g. /ok.")]
HealthCmd = Annotated[
    str | None,
    typer.Option("--health-cmd", help="Command run in the container, e.g. 'test -f /ok'."),
]
HealthPort = Annotated[int | None, typer.Option("--health-port", help="Port of the HTTP check.")]
HealthInterval = Annotated[
    float | None, typer.Option("--health-interval", help="Seconds between checks.")
]
MaxSurge = Annotated[int | None, typer.Option("--max-surge", help="Extra instances in a rollout.")]
MaxUnavailable = Annotated[
    int | None, typer.Option("--max-unavailable", help="Instances that may be down in a rollout.")
]
EgressMbit = Annotated[
    int | None,
    typer.Option(
        "--egress-mbit",
        min=0,
        help="Mbit/s each instance may send; 0 lifts the limit. Applied live at the next "
        "deploy, without restarting instances.",
    ),
]
IngressMbit = Annotated[
    int | None,
    typer.Option(
        "--ingress-mbit",
        min=0,
        help="Mbit/s each instance may receive; 0 lifts the limit. Applied live at the next "
        "deploy, without restarting instances.",
    ),
]
LogPaths = Annotated[
    list[str] | None,
    typer.Option(
        "--log-path",
        help="A log file the service writes inside its container, e.g. '/app/logs/*.log' "
        "(repeat; only the file name may be a pattern). Dockyard mounts a directory of the "
        "instance's own there and collects the files, following their rotation.",
    ),
]
LogMultilineStart = Annotated[
    str | None,
    typer.Option(
        "--log-multiline",
        help="A regex matching the first line of a log record, e.g. '^\\d{4}-': other lines "
        "(a stack trace) join the record before them, in log files and the console.",
    ),
]

LogRate = Annotated[
    int | None,
    typer.Option(
        "--log-rate",
        min=1,
        help="Lines per second the service's instances on one host may log, on average; lines "
        "over it are dropped, counted and shown as one marker line. Without it the platform's "
        "default applies. Takes effect as instances are replaced at the next deploy.",
    ),
]
LogBurst = Annotated[
    int | None,
    typer.Option(
        "--log-burst", min=0, help="Lines at once above --log-rate (0: five seconds' worth)."
    ),
]
Publish = Annotated[
    str | None,
    typer.Option(
        "--publish",
        help="Which other teams see the service's endpoints: private (the default), all, or "
        "team names separated by commas.",
    ),
]

Drain = Annotated[
    float | None,
    typer.Option(
        "--drain",
        min=0,
        help="Seconds a retired instance stays out of service, still running, before it is "
        "stopped (default 5; 0 stops it at once).",
    ),
]
StopGrace = Annotated[
    float | None,
    typer.Option(
        "--stop-grace", min=0, help="Seconds between the stop signal and a kill (default 10)."
    ),
]


@service_app.command("create")
def create_service(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument(help="Service name: lowercase letters, digits and '-'.")],
    image: Annotated[str, typer.Option("--image", "-i", help="Image reference.")],
    team: Team = None,
    port: Ports = None,
    env: EnvVars = None,
    cpus: Cpus = None,
    memory_mb: MemoryMb = None,
    pids: Pids = None,
    default_limit: DefaultLimit = None,
    health_http: HealthHttp = None,
    health_cmd: HealthCmd = None,
    health_port: HealthPort = None,
    health_interval: HealthInterval = None,
    max_surge: MaxSurge = None,
    max_unavailable: MaxUnavailable = None,
    egress_mbit: EgressMbit = None,
    ingress_mbit: IngressMbit = None,
    log_path: LogPaths = None,
    log_multiline: LogMultilineStart = None,
    log_rate: LogRate = None,
    log_burst: LogBurst = None,
    publish: Publish = None,
    drain: Drain = None,
    stop_grace: StopGrace = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """Create a service template; `dockyard deploy` then runs it in an environment."""
    options = SpecOptions(
        image=image,
        ports=tuple(port or ()),
        env=parse_pairs(env, option="--env"),
        cpus=cpus,
        memory_mb=memory_mb,
        pids=pids,
        default_limits=tuple(default_limit or ()),
        health_http=health_http,
        health_cmd=health_cmd,
        health_port=health_port,
        health_interval=health_interval,
        max_surge=max_surge,
        max_unavailable=max_unavailable,
        egress_mbit=egress_mbit,
        ingress_mbit=ingress_mbit,
        log_paths=tuple(log_path or ()),
        log_multiline=log_multiline,
        log_rate=log_rate,
        log_burst=log_burst,
        publish=publish,
        drain_s=drain,
        stop_grace_s=stop_grace,
    )
    current = session(ctx)
    path = api_path("teams", current.team(team), "services")
    created = current.client().post(path, {"name": name, **spec_patch(options, {})})
    show(
        created,
        output,
        lambda s: say(f"service {s['team']}/{s['name']} created\n{readiness_line(s)}"),
    )


@service_app.command("update")
def update_service(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument()],
    team: Team = None,
    image: Image = None,
    port: Ports = None,
    env: EnvVars = None,
    unset_env: Annotated[
        list[str] | None, typer.Option("--unset-env", help="Remove this variable (repeat).")
    ] = None,
    cpus: Cpus = None,
    memory_mb: MemoryMb = None,
    pids: Pids = None,
    default_limit: DefaultLimit = None,
    health_http: HealthHttp = None,
    health_cmd: HealthCmd = None,
    health_port: HealthPort = None,
    health_interval: HealthInterval = None,
    no_health: Annotated[
        bool, typer.Option("--no-health", help="Remove the health check.")
    ] = False,
    max_surge: MaxSurge = None,
    max_unavailable: MaxUnavailable = None,
    egress_mbit: EgressMbit = None,
    ingress_mbit: IngressMbit = None,
    log_path: LogPaths = None,
    no_log_paths: Annotated[
        bool, typer.Option("--no-log-paths", help="Collect no declared log files any more.")
    ] = False,
    log_multiline: LogMultilineStart = None,
    no_log_multiline: Annotated[
        bool, typer.Option("--no-log-multiline", help="Remove the multi-line rule.")
    ] = False,
    log_rate: LogRate = None,
    log_burst: LogBurst = None,
    publish: Publish = None,
    no_log_rate: Annotated[
        bool, typer.Option("--no-log-rate", help="Back to the platform's default log budget.")
    ] = False,
    drain: Drain = None,
    stop_grace: StopGrace = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """Change the template; running environments pick it up at their next deploy."""
    options = SpecOptions(
        image=image,
        ports=tuple(port or ()),
        env=parse_pairs(env, option="--env"),
        unset_env=tuple(unset_env or ()),
        cpus=cpus,
        memory_mb=memory_mb,
        pids=pids,
        default_limits=tuple(default_limit or ()),
        health_http=health_http,
        health_cmd=health_cmd,
        health_port=health_port,
        health_interval=health_interval,
        no_health=no_health,
        max_surge=max_surge,
        max_unavailable=max_unavailable,
        egress_mbit=egress_mbit,
        ingress_mbit=ingress_mbit,
        log_paths=tuple(log_path or ()),
        no_log_paths=no_log_paths,
        log_multiline=log_multiline,
        no_log_multiline=no_log_multiline,
        log_rate=log_rate,
        log_burst=log_burst,
        publish=publish,
        no_log_rate=no_log_rate,
        drain_s=drain,
        stop_grace_s=stop_grace,
    )
    current = session(ctx)
    path = service_path(current, team, name)
    before = current.client().get(path)
    patch = spec_patch(options, before["spec"])
    if not patch:
        raise typer.BadParameter("nothing to change: give at least one option, e.g. --image")
    updated = current.client().patch(path, patch)
    show(
        updated,
        output,
        lambda s: say(
            f"service {s['team']}/{s['name']} updated; deploy to apply it to an environment"
        ),
    )


@service_app.command("show")
def show_service(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument()],
    team: Team = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """Show a service's template, the state of each of its environments and the limits each
    instance gets there (its revision's, or what a deploy would give it now)."""
    current = session(ctx)
    service = current.client().get(service_path(current, team, name))
    if output is OutputFormat.JSON:
        show(service, output, _render_service)
        return
    _render_service(service)
    _render_limits(service, current.client().get("/environments")["items"])
    _render_autoscaling(
        current.client().get(service_path(current, team, name) + "/autoscaling/envs")
    )


def _render_autoscaling(answer: dict[str, Any]) -> None:
    rows = [
        {"env": a["env"], "policy": policy_line(a), "state": state_line(a)} for a in answer["items"]
    ]
    print_table(
        rows,
        (
            Column("ENV", lambda r: r["env"]),
            Column("AUTOSCALING", lambda r: r["policy"]),
            Column("STATE", lambda r: r["state"]),
        ),
        empty="no autoscaling",
    )


def _render_limits(service: dict[str, Any], defaults: list[dict[str, Any]]) -> None:
    """Per environment: the current revision's limits, or what a deploy would resolve now."""
    own = service["spec"].get("resources") or {}
    by_env = {e["env"]: e for e in service.get("environments") or []}
    rows = []
    for environment in defaults:
        env = environment["env"]
        release = (by_env.get(env) or {}).get("current")
        if release is not None:
            resources = release["spec"].get("resources") or {}
            text = limits_text(resources, release.get("resources_from") or {}, env)
            rows.append({"env": env, "limits": text, "from": f"revision {release['number']}"})
            continue
        chosen = {
            k: own[k] if own.get(k) is not None else v for k, v in environment["defaults"].items()
        }
        sources = {k: "service" if own.get(k) is not None else "environment" for k in chosen}
        rows.append(
            {"env": env, "limits": limits_text(chosen, sources, env), "from": "next deploy"}
        )
    say("limits per instance:")
    print_table(rows, LIMIT_COLUMNS, empty="")


LIMIT_COLUMNS = (
    Column("ENV", lambda r: r["env"]),
    Column("LIMITS", lambda r: r["limits"]),
    Column("OF", lambda r: r["from"]),
)


def _render_service(service: dict[str, Any]) -> None:
    spec = service["spec"]
    resources = spec.get("resources") or {}
    strategy = spec.get("strategy") or {}
    print_fields(
        [
            ("service", f"{service['team']}/{service['name']}"),
            ("image", spec.get("image")),
            ("ports", ports_text(spec) or "-"),
            ("env", " ".join(f"{k}={v}" for k, v in (spec.get("env") or {}).items()) or "-"),
            ("resources", template_limits_text(resources)),
            ("health check", _health_text(spec.get("health_check"))),
            ("readiness", (service.get("effective_health") or {}).get("text", "-")),
            (
                "strategy",
                f"max surge {strategy.get('max_surge')}, "
                f"max unavailable {strategy.get('max_unavailable')}",
            ),
            ("bandwidth", bandwidth_text(spec.get("bandwidth"))),
            ("log files", " ".join(spec.get("log_paths") or ()) or "-"),
            ("multi-line", _multiline_text(spec.get("log_multiline"))),
            ("log rate", _log_rate_text(spec.get("log_rate"))),
            ("drain, stop grace", f"{spec.get('drain_s')} s, {spec.get('stop_grace_s')} s"),
            ("created", when(service.get("created_at"))),
            ("updated", when(service.get("updated_at"))),
            ("deleting", bool(service.get("deleting"))),
        ]
    )
    print_table(service.get("environments") or [], ENV_COLUMNS, empty="not deployed anywhere yet")


def bandwidth_text(limits: dict[str, Any] | None) -> str:
    """`out 30 Mbit/s, in unlimited`: per instance, from the service's side."""

    def one(value: Any) -> str:
        return f"{value} Mbit/s" if value else "unlimited"

    limits = limits or {}
    return f"out {one(limits.get('egress_mbit'))}, in {one(limits.get('ingress_mbit'))}"


def _multiline_text(rule: dict[str, Any] | None) -> str:
    if not rule:
        return "-"
    return (
        f"records start at {rule.get('start')!r} "
        f"(at most {rule.get('max_bytes')} bytes, {rule.get('max_wait_s')} s)"
    )


def _log_rate_text(rate: dict[str, Any] | None) -> str:
    if not rate:
        return "the platform's default"
    burst = rate.get("burst") or BURST_S * int(rate.get("lines_per_s") or 0)
    return f"{rate.get('lines_per_s'):,} lines/s per host, bursts of {burst:,}"


def readiness_line(answer: dict[str, Any]) -> str:
    """`readiness: TCP connect to port 8080 (no health check given)`, from a service or a
    release answer: what an instance passes before it gets traffic."""
    effective = answer.get("effective_health") or {}
    return f"readiness: {effective.get('text', 'unknown (server too old to say)')}"


def _health_text(check: dict[str, Any] | None) -> str:
    if not check:
        return "none"
    if check.get("http_path"):
        probe = f"GET {check['http_path']}" + (f" on :{check['port']}" if check.get("port") else "")
    else:
        probe = "run " + " ".join(check.get("command") or ())
    return f"{probe} every {check.get('interval_s')} s"


@service_app.command("delete")
def delete_service(
    ctx: typer.Context, name: Annotated[str, typer.Argument()], team: Team = None
) -> None:
    """Delete a service; its instances in every environment are stopped."""
    current = session(ctx)
    current.client().delete(service_path(current, team, name))
    say(f"service {name} is being deleted: its instances are stopping")


def register(app: typer.Typer) -> None:
    app.command("services")(list_services)
    app.add_typer(service_app, name="service")
