"""releases.cause becomes TEXT

A deploy's cause is "deploy <image>", and an image reference may be 255 characters long, so
VARCHAR(200) overflowed: PostgreSQL refused such a deploy (SQLite does not enforce lengths).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 19:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.alter_column(
            "cause", existing_type=sa.String(length=200), type_=sa.Text(), existing_nullable=False
        )


def downgrade() -> None:
    """Downgrade schema (a cause longer than 200 characters is cut to fit)."""
    op.execute("UPDATE releases SET cause = substr(cause, 1, 200)")
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.alter_column(
            "cause", existing_type=sa.Text(), type_=sa.String(length=200), existing_nullable=False
        )
