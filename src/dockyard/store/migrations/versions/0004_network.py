"""network segments and fixed addresses

Segments (CIDR, gateway, VLAN, reserved ranges, environments served) and the addresses
services keep for themselves. Which address is held by whom lives in etcd, not here.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-29 19:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=12), nullable=False),
        sa.Column("cidr", sa.String(length=18), nullable=False),
        sa.Column("gateway", sa.String(length=15), nullable=False),
        sa.Column("vlan", sa.Integer(), nullable=True),
        sa.Column("environments", sa.JSON(), nullable=False),
        sa.Column("reserved", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "fixed_addresses",
        sa.Column("address", sa.String(length=15), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("env", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["segment_id"], ["segments.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("address"),
    )
    with op.batch_alter_table("fixed_addresses", schema=None) as batch_op:
        batch_op.create_index("ix_fixed_addresses_service_env", ["service_id", "env"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("fixed_addresses", schema=None) as batch_op:
        batch_op.drop_index("ix_fixed_addresses_service_env")
    op.drop_table("fixed_addresses")
    op.drop_table("segments")
