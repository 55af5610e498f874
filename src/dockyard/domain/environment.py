"""The four environments every service has, and the network each lives on."""

from __future__ import annotations

import enum

from dockyard.domain.errors import Invalid


class Environment(enum.StrEnum):
    TEST = "test"
    SANDBOX = "sandbox"
    ONLINE = "online"
    STABLE = "stable"

    @property
    def network(self) -> str:
        """`test` and `stable` live on the offline network; `sandbox` and `online` online."""
        return "offline" if self in (Environment.TEST, Environment.STABLE) else "online"

    @classmethod
    def parse(cls, value: str) -> Environment:
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(e.value for e in cls)
            raise Invalid(
                f"unknown environment {value!r}: use one of {names}", field="env"
            ) from None


ALL_ENVIRONMENTS: tuple[Environment, ...] = tuple(Environment)
