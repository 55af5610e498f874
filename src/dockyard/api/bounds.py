"""The bounds of every value the API takes, stated once, in the types bodies and parameters use,
so the OpenAPI document says them and pydantic refuses what lies outside (422) before a value
reaches the store: a number SQLite or PostgreSQL cannot hold, a NUL byte runc cannot pass on,
a string longer than its column.

Exact rules of a value (a name's characters, an image reference, a CIDR) stay the domain's;
these bounds are the outer fence every value of a kind shares.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import Path, Query
from pydantic import Field

MAX_INTEGER: Final = 2**53 - 1
"""No whole number the API takes is larger: well inside what SQLite and PostgreSQL (BIGINT)
store, and the largest every JSON reader holds exactly (JavaScript's Number.MAX_SAFE_INTEGER;
the OpenAPI document itself writes bounds as floating point numbers)."""

LINE: Final = r"^[^\x00-\x1f\x7f]*$"
"""One line of text: no control character at all (names, references, paths, addresses)."""
TEXT: Final = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
"""Free text: tab and line breaks allowed, no other control character (descriptions)."""
NO_NUL: Final = r"^[^\x00]*$"
"""A value handed to a process (an environment variable, an argument): anything but NUL, which
no process can receive (the kernel ends the string there; runc refuses it)."""
ENV_NAME: Final = r"^[A-Za-z_][A-Za-z0-9_]*$"
"""An environment variable's name, as a shell can set it."""

RULES: Final = {
    LINE: "must be one line without control characters (no NUL, tab or line break): remove them",
    TEXT: "must not contain control characters other than tab and line breaks: remove them",
    NO_NUL: "must not contain a NUL byte (\\u0000): no process can receive one; remove it",
    ENV_NAME: "must use letters, digits and '_', not starting with a digit",
}
"""What each pattern means, in the words an error message gives a user."""

NAME_MAX: Final = 30
"""Team and service names (the domain's rule: 1-30 characters)."""
SHORT_MAX: Final = 64
"""Short identifiers: token ids and names, instance ids, segment names, addresses, CIDRs."""
LINE_MAX: Final = 1024
"""Paths, references and URLs."""
VALUE_MAX: Final = 32 * 1024
"""One environment variable's value, one argument (Linux allows 128 KiB; bodies stop at 1 MiB)."""
LIST_MAX: Final = 256
"""Items in a list (arguments, reserved ranges)."""

# ---- strings ----

Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX, pattern=LINE)]
Short = Annotated[str, Field(min_length=1, max_length=SHORT_MAX, pattern=LINE)]
Line = Annotated[str, Field(max_length=LINE_MAX, pattern=LINE)]
Description = Annotated[str, Field(max_length=200, pattern=TEXT)]
Value = Annotated[str, Field(max_length=VALUE_MAX, pattern=NO_NUL)]
EnvName = Annotated[str, Field(min_length=1, max_length=256, pattern=ENV_NAME)]

# ---- numbers ----

Number = Annotated[int, Field(ge=1, le=MAX_INTEGER)]
"""A revision or build number: counted from 1."""
Offset = Annotated[int, Field(ge=0, le=MAX_INTEGER)]

# ---- path and query parameters ----

TeamPath = Annotated[str, Path(min_length=1, max_length=NAME_MAX, pattern=LINE)]
ServicePath = Annotated[str, Path(min_length=1, max_length=NAME_MAX, pattern=LINE)]
ShortPath = Annotated[str, Path(min_length=1, max_length=SHORT_MAX, pattern=LINE)]
NumberPath = Annotated[int, Path(ge=1, le=MAX_INTEGER)]
NameQuery = Annotated[str | None, Query(min_length=1, max_length=NAME_MAX, pattern=LINE)]
ShortQuery = Annotated[str | None, Query(min_length=1, max_length=SHORT_MAX, pattern=LINE)]
