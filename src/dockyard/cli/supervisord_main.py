"""supervisord as `dockyard up` runs it: `python -m dockyard.cli.supervisord_main ARGS` is PyPI's
`supervisord ARGS` with one change, for a disk that fills up.

supervisord reports a log line it could not write by printing the error on its own stderr.
Where that is a file on the same full disk (`<state>/logs/supervisord.out`), the report fails
too, and that error escapes into supervisord's loop and ends it: every program keeps running,
unsupervised. Here a report that cannot be written is dropped: lines are lost while the disk is
full, supervision is not, and the logs resume once there is space.
"""

from __future__ import annotations

import contextlib
import sys
import traceback

from supervisor import loggers, supervisord


def _report_unwritten(_handler: loggers.Handler) -> None:
    with contextlib.suppress(OSError):
        traceback.print_exc(file=sys.stderr)


if __name__ == "__main__":
    loggers.Handler.handleError = _report_unwritten
    supervisord.main()
