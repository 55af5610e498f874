"""The `dockyard` command line: a client of the REST API, and the platform's launcher.

Commands are grouped by noun under `dockyard.cli.commands`; `client` talks HTTP, `output`
prints, `platform` starts and stops the processes of `dockyard up`.
"""

from dockyard.cli.app import app, main

__all__ = ["app", "main"]
