"""per-environment default limits, set by the platform team

`environment_defaults`: the CPU, memory and pids limits an instance gets for what its service
does not set itself, one row per environment. Each starts at what every service got before
(0.5 CPU, 256 MiB, 512 pids), and each service template's resources that equal those values
become the environment's default rather than the service's own (`resources_own`); revisions
record the same, for display only. What instances run is unchanged: revisions keep their
values, and the next deploy resolves the same ones until the platform team changes a default.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-13 10:00:00

"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The limits every instance got when its service set none, before this revision: literal
# here, since the domain's defaults may change after it.
FORMER = {"cpus": 0.5, "memory_mb": 256, "pids": 512}
ENVIRONMENTS = ("test", "sandbox", "online", "stable")


def _own(spec: dict[str, Any]) -> list[str]:
    resources = spec.get("resources") or {}
    return [name for name, value in FORMER.items() if resources.get(name, value) != value]


def _mark(table: str) -> None:
    """Add `resources_own` to every spec of `table` that lacks it."""
    rows = sa.table(table, sa.column("id", sa.Integer), sa.column("spec", sa.JSON))
    bind = op.get_bind()
    for row_id, spec in bind.execute(sa.select(rows.c.id, rows.c.spec)).all():
        if "resources_own" in spec:
            continue
        marked = {**spec, "resources_own": _own(spec)}
        bind.execute(sa.update(rows).where(rows.c.id == row_id).values(spec=marked))


def upgrade() -> None:
    """Upgrade schema."""
    defaults = op.create_table(
        "environment_defaults",
        sa.Column("env", sa.String(length=10), nullable=False),
        sa.Column("cpus", sa.Double(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("pids", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("env"),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        defaults,
        [
            {"env": env, **FORMER, "updated_by": "migration", "updated_at": now}
            for env in ENVIRONMENTS
        ],
    )
    _mark("services")
    _mark("releases")


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("environment_defaults")
