"""`promtool check rules`: the judge of every rule file before Prometheus is given it.

Prometheus's own checker, run on the very text that would be written, so a rule it accepts
here is one Prometheus loads; what it says of a bad one goes back to the team word for word.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from dockyard.domain.errors import Malformed, Unavailable

PROMTOOL_CANDIDATES = ("/usr/bin/promtool",)
CHECK_S = 30.0


def find_promtool() -> str | None:
    found = shutil.which("promtool")
    return found or next((p for p in PROMTOOL_CANDIDATES if os.access(p, os.X_OK)), None)


def check_rules(text: str, *, promtool: str | None = None) -> None:
    """Return if promtool accepts `text` as a rule file; else Malformed carrying promtool's
    message (the temporary file's name replaced by "rules"). Unavailable if promtool is
    missing or does not finish within CHECK_S. Leaves no file behind either way."""
    program = promtool or find_promtool()
    if program is None:
        raise Unavailable("promtool is not installed here: `apt-get install prometheus`")
    with tempfile.TemporaryDirectory(prefix="dockyard-rules-") as directory:
        path = Path(directory) / "rules.yml"
        path.write_text(text)
        try:
            done = subprocess.run(
                [program, "check", "rules", str(path)],
                capture_output=True,
                text=True,
                timeout=CHECK_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Unavailable(f"promtool could not check the rules: {exc}") from exc
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).replace(str(path), "rules")
        lines = [line.strip() for line in said.splitlines() if line.strip() != "FAILED:"]
        raise Malformed("promtool refused the rule: " + " ".join(lines)[:1500], field="expr")
