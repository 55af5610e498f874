"""The one error the CLI reports: a single line on stderr and an exit code, never a traceback."""

from __future__ import annotations


class CliError(Exception):
    """A failure to show the user as `error: <message>`; `exit_code` is 1 unless said otherwise."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
