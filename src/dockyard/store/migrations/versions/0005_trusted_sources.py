"""service sources remember whether the admin set them

`service_sources.trusted`: a source the platform admin set may name a file:// path outside
the configured source roots; a team's may not (checked when set and again at build time).

Revision ID: 0005
Revises: 0003, 0004
Create Date: 2026-11-29 21:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
# Also after 0003, which made the table: the image center's and the network's branches of
# the history meet here (with only 0004 below it, nothing orders it after 0003).
down_revision: str | Sequence[str] | None = ("0003", "0004")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("service_sources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trusted", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("service_sources", schema=None) as batch_op:
        batch_op.drop_column("trusted")
