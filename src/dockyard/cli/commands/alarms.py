"""`alarms`: a team's alarm history (list, ack, silence, unsilence), its rules per service
(`alarms rules add|list|rm`) and the receivers its alarms go to (`alarms receivers
add|list|rm`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dockyard.cli.client import api_path
from dockyard.cli.context import session
from dockyard.cli.options import Env, Output, Team, parse_pairs
from dockyard.cli.output import Column, OutputFormat, print_table, say, show, when

alarms_app = typer.Typer(
    help="A team's alarms: list, acknowledge or silence them; their rules and receivers.",
    no_args_is_help=True,
)
rules_app = typer.Typer(help="Alarm rules of a service: add, list or remove.", no_args_is_help=True)
receivers_app = typer.Typer(
    help="Where a team's alarms are sent: add, list or remove.", no_args_is_help=True
)

Service = Annotated[str, typer.Argument(metavar="SERVICE", help="The service.")]
Name = Annotated[str, typer.Argument(metavar="NAME", help="The name.")]
AlarmId = Annotated[int, typer.Argument(metavar="ID", help="The alarm's number (alarms list).")]


def _silenced(a: dict[str, Any]) -> str:
    return f"until {when(a['silenced_until'])}" if a.get("silence_id") else "-"


ALARM_COLUMNS = (
    Column("ID", lambda a: a["id"], justify="right"),
    Column("STATE", lambda a: a["state"]),
    Column("ALARM", lambda a: a["alertname"]),
    Column("SEVERITY", lambda a: a["severity"]),
    Column("SERVICE", lambda a: f"{a['service'] or '-'}/{a['env'] or '-'}"),
    Column("SINCE", lambda a: when(a["starts_at"])),
    Column("ACKED BY", lambda a: a["acked_by"] or "-"),
    Column("SILENCED", _silenced),
    Column("SUMMARY", lambda a: a["summary"] or "-"),
)


def _condition(r: dict[str, Any]) -> str:
    t = r["threshold"]
    return f"{t['metric']} {t['op']} {t['value']:g}" if t else r["expr"]


RULE_COLUMNS = (
    Column("NAME", lambda r: r["name"]),
    Column("ENV", lambda r: r["env"]),
    Column("WHEN", _condition),
    Column("FOR", lambda r: f"{r['for_s']}s", justify="right"),
    Column("SEVERITY", lambda r: r["severity"]),
    Column("RECEIVERS", lambda r: ",".join(r["receivers"]) or "all"),
)
RECEIVER_COLUMNS = (
    Column("NAME", lambda r: r["name"]),
    Column("KIND", lambda r: r["kind"]),
    Column("TARGET", lambda r: r["target"]),
    Column("DELIVERED", lambda r: r["state"]["delivered"], justify="right"),
    Column("FAILED", lambda r: r["state"]["failed"], justify="right"),
    Column("LAST ERROR", lambda r: r["state"]["last_error"] or "-"),
)


@alarms_app.command("list")
def list_alarms(
    ctx: typer.Context,
    *,
    state: Annotated[str, typer.Option("--state", help="firing, resolved or all.")] = "firing",
    service: Annotated[str | None, typer.Option("--service", "-s", help="Only this.")] = None,
    env: Annotated[str | None, typer.Option("--env", "-e", help="Only this env.")] = None,
    team: Team = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """The team's alarms, newest first (firing ones unless --state says otherwise)."""
    s = session(ctx)
    params = {"state": state, **({"service": service} if service else {})}
    params |= {"env": env} if env else {}
    answer = s.client().get(api_path("teams", s.team(team), "alarms"), params=params)
    show(answer, output, lambda a: print_table(a["items"], ALARM_COLUMNS, empty="no alarms"))


@alarms_app.command("ack")
def acknowledge(ctx: typer.Context, alarm: AlarmId, *, team: Team = None) -> None:
    """Record that you have seen the alarm."""
    s = session(ctx)
    done = s.client().post(api_path("teams", s.team(team), "alarms", str(alarm), "ack"), {})
    say(f"alarm {done['id']} ({done['alertname']}) acknowledged by {done['acked_by']}")


@alarms_app.command("silence")
def silence(
    ctx: typer.Context,
    alarm: AlarmId,
    *,
    duration: Annotated[str, typer.Option("--for", help="How long: e.g. 30m, 2h, 1d.")] = "1h",
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why.")] = "",
    team: Team = None,
) -> None:
    """Silence the alarm in Alertmanager: no notice of it is sent until the time is up."""
    s = session(ctx)
    path = api_path("teams", s.team(team), "alarms", str(alarm), "silence")
    done = s.client().post(path, {"duration": duration, "comment": comment})
    say(f"alarm {done['id']} silenced until {when(done['silenced_until'])}")


@alarms_app.command("unsilence")
def unsilence(ctx: typer.Context, alarm: AlarmId, *, team: Team = None) -> None:
    """End the alarm's silence now."""
    s = session(ctx)
    done = s.client().delete(api_path("teams", s.team(team), "alarms", str(alarm), "silence"))
    say(f"alarm {done['id']} is no longer silenced")


@rules_app.command("add")
def add_rule(
    ctx: typer.Context,
    service: Service,
    name: Name,
    *,
    env: Env,
    when_: Annotated[
        str | None,
        typer.Option("--when", help="A built-in figure, e.g. 'memory > 85', 'restarts > 3'."),
    ] = None,
    expr: Annotated[str | None, typer.Option("--expr", help="Your own PromQL instead.")] = None,
    for_s: Annotated[int, typer.Option("--for", help="Seconds it must hold.")] = 60,
    severity: Annotated[str, typer.Option("--severity", help="info, warning, critical.")] = (
        "warning"
    ),
    summary: Annotated[str, typer.Option("--summary", help="One line for the notice.")] = "",
    labels: Annotated[
        list[str] | None, typer.Option("--label", "-l", help="NAME=VALUE (repeat).")
    ] = None,
    receivers: Annotated[
        list[str] | None, typer.Option("--receiver", "-r", help="Only this one (repeat).")
    ] = None,
    team: Team = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """Add an alarm rule; Prometheus evaluates it from now on."""
    body: dict[str, Any] = {
        "name": name, "env": str(env), "for_s": for_s, "severity": severity,
        "summary": summary, "labels": parse_pairs(labels, option="--label"),
        "receivers": receivers or [],
    }  # fmt: skip
    if (when_ is None) == (expr is None):
        raise typer.BadParameter("give either --when or --expr", param_hint="--when")
    if when_ is not None:
        body["threshold"] = _threshold(when_)
    else:
        body["expr"] = expr
    s = session(ctx)
    path = api_path("teams", s.team(team), "services", service, "alarm-rules")
    rule = s.client().post(path, body)
    show(rule, output, _said_rule)


def _said_rule(rule: dict[str, Any]) -> None:
    say(f"alarm rule {rule['service']}/{rule['name']} added: {rule['promql']}")
    if rule.get("problem"):
        say(f"  stored, not loaded yet: {rule['problem']}")


def _threshold(text: str) -> dict[str, Any]:
    """'memory > 85' as the API's threshold; a usage error if it does not read so."""
    parts = text.split()
    try:
        metric, op, value = parts
        return {"metric": metric, "op": op, "value": float(value)}
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: write FIGURE OP NUMBER, e.g. 'memory > 85'", param_hint="--when"
        ) from None


@rules_app.command("list")
def list_rules(
    ctx: typer.Context, service: Service, *, team: Team = None, output: Output = OutputFormat.TABLE
) -> None:
    """The service's alarm rules."""
    s = session(ctx)
    answer = s.client().get(api_path("teams", s.team(team), "services", service, "alarm-rules"))
    show(answer, output, lambda a: print_table(a["items"], RULE_COLUMNS, empty="no alarm rules"))


@rules_app.command("rm")
def remove_rule(ctx: typer.Context, service: Service, name: Name, *, team: Team = None) -> None:
    """Remove an alarm rule; its firing alarms resolve."""
    s = session(ctx)
    path = api_path("teams", s.team(team), "services", service, "alarm-rules", name)
    rule = s.client().delete(path)
    say(f"alarm rule {rule['service']}/{rule['name']} removed")


@receivers_app.command("add")
def add_receiver(
    ctx: typer.Context,
    name: Name,
    *,
    kind: Annotated[
        str, typer.Option("--kind", "-k", help="webhook, slack, mattermost, discord, wecom, email.")
    ],
    target: Annotated[str, typer.Option("--target", help="Its URL, or e-mail address.")],
    team: Team = None,
) -> None:
    """Add a receiver: every alarm of the team goes to it (unless a rule names others)."""
    s = session(ctx)
    body = {"name": name, "kind": kind, "target": target}
    receiver = s.client().post(api_path("teams", s.team(team), "alarm-receivers"), body)
    say(f"receiver {receiver['team']}/{receiver['name']} added ({receiver['kind']})")


@receivers_app.command("list")
def list_receivers(
    ctx: typer.Context, *, team: Team = None, output: Output = OutputFormat.TABLE
) -> None:
    """The team's receivers and how delivery to each went."""
    s = session(ctx)
    answer = s.client().get(api_path("teams", s.team(team), "alarm-receivers"))
    show(answer, output, lambda a: print_table(a["items"], RECEIVER_COLUMNS, empty="no receivers"))


@receivers_app.command("rm")
def remove_receiver(ctx: typer.Context, name: Name, *, team: Team = None) -> None:
    """Remove a receiver."""
    s = session(ctx)
    receiver = s.client().delete(api_path("teams", s.team(team), "alarm-receivers", name))
    say(f"receiver {receiver['team']}/{receiver['name']} removed")


def register(app: typer.Typer) -> None:
    alarms_app.add_typer(rules_app, name="rules")
    alarms_app.add_typer(receivers_app, name="receivers")
    app.add_typer(alarms_app, name="alarms")
