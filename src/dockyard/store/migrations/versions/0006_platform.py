"""this installation's id, which labels every container it makes

One row, made here once: the platform's id (random) and whether it adopts containers that
carry no platform label, which it does if it already had services (those containers may be
its own, made before the label existed). A new database adopts none.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 15:50:00

"""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    platform = op.create_table(
        "platform",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("adopts_unlabelled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    had_services = op.get_bind().execute(sa.text("SELECT 1 FROM services LIMIT 1")).first()
    op.bulk_insert(
        platform,
        [
            {
                "id": secrets.token_hex(8),
                "adopts_unlabelled": had_services is not None,
                "created_at": datetime.now(UTC),
            }
        ],
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("platform")
