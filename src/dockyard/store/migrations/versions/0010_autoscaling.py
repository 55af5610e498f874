"""autoscaling

`autoscaling`: a policy per service and environment, whether it is paused (and why), and
the autoscaler's last word on it; `autoscale_decisions`: each decision with the figure it
used and the revision it made.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 00:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    when = sa.DateTime(timezone=True)
    op.create_table(
        "autoscaling",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("env", sa.String(length=10), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("paused", sa.Text(), nullable=True),
        sa.Column("paused_at", when, nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("status_at", when, nullable=True),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("service_id", "env"),
    )
    op.create_table(
        "autoscale_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("env", sa.String(length=10), nullable=False),
        sa.Column("at", when, nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=10), nullable=False),
        sa.Column("figure", sa.Double(), nullable=False),
        sa.Column("target_percent", sa.Double(), nullable=False),
        sa.Column("from_replicas", sa.Integer(), nullable=False),
        sa.Column("to_replicas", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_autoscale_decisions_service_env",
        "autoscale_decisions",
        ["service_id", "env", "id"],
        unique=False,
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_autoscale_decisions_service_env", table_name="autoscale_decisions")
    op.drop_table("autoscale_decisions")
    op.drop_table("autoscaling")
