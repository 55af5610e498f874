"""when a draining instance is stopped

`instances.drain_until`: an instance the controller retires is first marked draining (out of
service, still running) and stopped once this time has passed, by whichever pass comes then,
so a server killed mid-drain leaves the next one to finish it. Null for every other instance.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 16:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("drain_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_column("drain_until")
