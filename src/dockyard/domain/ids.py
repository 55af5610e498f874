"""Typed identifiers and the name rules shared by teams, services and tokens."""

from __future__ import annotations

import re
import secrets
from typing import NewType

from dockyard.domain.errors import Invalid

TeamName = NewType("TeamName", str)
ServiceName = NewType("ServiceName", str)
InstanceId = NewType("InstanceId", str)
RevisionNumber = NewType("RevisionNumber", int)

# A DNS label, short enough that team + service + env + instance fit in a container name.
_NAME = re.compile(r"^[a-z](?:[a-z0-9-]{0,28}[a-z0-9])?$")
NAME_RULE = (
    "1-30 characters: lowercase letters, digits and '-', starting with a letter, "
    "not ending with '-'"
)


def check_name(value: str, *, field: str) -> str:
    """Return `value` if it is a valid team/service name, else raise Invalid naming the field."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise Invalid(f"{field} {value!r} is not a valid name: use {NAME_RULE}", field=field)
    return value


def new_instance_id() -> InstanceId:
    """A short random id; unique enough per (service, env), and readable in tables."""
    return InstanceId(secrets.token_hex(5))
