"""Promotion gates: may this digest move from one environment to the next? Pure.

The order is fixed: test -> sandbox -> online. `stable` is never promoted to by hand: it follows
the environment its policy names (see follower.py). Each gate answers passed or not, and why;
the first gate that fails refuses the promotion (409, naming the gate).

- path:     sandbox takes only from test, online only from sandbox.
- digest:   the source runs an image pinned by digest (a local engine image cannot move).
- health:   the source's current revision is available (every instance ready).
- soak:     into sandbox, the revision has been available for the service's soak time.
- approval: into online, when the policy asks for it, a member of the team other than the
            requester approved this digest. Members are told apart by their token's name
            (`team/name`): one person, one token.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Conflict
from dockyard.images.naming import digest_of
from dockyard.store.promotions import EnvFacts, Policy

NEXT: dict[Environment, Environment] = {
    Environment.TEST: Environment.SANDBOX,
    Environment.SANDBOX: Environment.ONLINE,
}
PREVIOUS = {target: source for source, target in NEXT.items()}


class PromotionRefused(Conflict):
    """A gate refused the promotion; `field` names the gate."""

    code = "promotion_refused"


@dataclass(frozen=True)
class Gate:
    name: str
    passed: bool
    detail: str


def gates(
    *,
    source: EnvFacts,
    target: Environment,
    policy: Policy,
    approvers: Iterable[str],
    requester: str,
    now: datetime,
) -> list[Gate]:
    """Every gate between `source` and `target`, in order (later ones may be moot if an
    earlier one failed, but are still reported, so a page can show all of them)."""
    found = [_path(source.env, target), _digest(source)]
    found.append(_health(source))
    if target is Environment.SANDBOX:
        found.append(_soak(source, policy.soak_s, now))
    if target is Environment.ONLINE and policy.online_approval:
        found.append(_approval(source, list(approvers), requester))
    return found


def check(found: list[Gate], *, source: Environment, target: Environment) -> None:
    """Raise PromotionRefused for the first failed gate; return if all passed."""
    for gate in found:
        if not gate.passed:
            raise PromotionRefused(
                f"promotion {source.value} -> {target.value} refused by the {gate.name} gate: "
                f"{gate.detail}",
                field=gate.name,
            )


def _path(source: Environment, target: Environment) -> Gate:
    if target is Environment.STABLE:
        return Gate(
            "path",
            False,
            "stable is not promoted to: it follows the environment its policy names "
            "(`dockyard promotion-policy SVC --stable-follows online`)",
        )
    wanted = PREVIOUS.get(target)
    if wanted is None:
        return Gate("path", False, f"{target.value} takes no promotions: it is the first stage")
    if source is not wanted:
        return Gate("path", False, f"{target.value} takes digests from {wanted.value} only")
    return Gate("path", True, f"{source.value} -> {target.value}")


def _digest(source: EnvFacts) -> Gate:
    if source.image is None:
        return Gate("digest", False, f"{source.env.value} runs nothing yet")
    if digest_of(source.image) is None:
        return Gate(
            "digest", False,
            f"{source.env.value} runs {source.image}, an engine image not pinned by digest: "
            "build the service with `dockyard build` and deploy what it built",
        )  # fmt: skip
    return Gate("digest", True, source.image)


def _health(source: EnvFacts) -> Gate:
    if source.revision is None:
        return Gate("health", False, f"{source.env.value} runs nothing yet")
    if source.status_revision != source.revision:
        return Gate(
            "health", False,
            f"{source.env.value} revision {source.revision} is not rolled out yet",
        )  # fmt: skip
    if source.phase != "available":
        return Gate(
            "health", False,
            f"{source.env.value} revision {source.revision} is {source.phase}, not available",
        )  # fmt: skip
    return Gate("health", True, f"{source.env.value} revision {source.revision} is available")


def _soak(source: EnvFacts, soak_s: float, now: datetime) -> Gate:
    since = source.available_since
    if since is None or source.phase != "available":
        return Gate("soak", False, f"{source.env.value} is not available, so not soaking")
    ran = (now - since).total_seconds()
    if ran < soak_s:
        return Gate(
            "soak", False,
            f"{source.env.value} revision {source.revision} has run healthy for {ran:.0f} s "
            f"of the {soak_s:g} s soak time; promote in {soak_s - ran:.0f} s",
        )  # fmt: skip
    return Gate("soak", True, f"healthy for {ran:.0f} s (soak time {soak_s:g} s)")


def _approval(source: EnvFacts, approvers: list[str], requester: str) -> Gate:
    others = [who for who in approvers if who != requester]
    if others:
        return Gate("approval", True, f"approved by {', '.join(others)}")
    digest = (digest_of(source.image) if source.image else None) or "the digest"
    asked = " (your own approval does not count)" if requester in approvers else ""
    return Gate(
        "approval", False,
        f"online needs {digest} approved by a team member other than {requester}{asked}: "
        "they run `dockyard approve SVC`",
    )  # fmt: skip
