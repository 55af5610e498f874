"""log drains

`drains`: a team's destinations for its services' log lines (syslog, HTTP NDJSON, OTLP), with
the delivery state the drainer writes beside each (delivered, lost, pending, last error).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 21:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    when = sa.DateTime(timezone=True)
    op.create_table(
        "drains",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("ca_file", sa.String(length=1024), nullable=True),
        sa.Column("verify", sa.Boolean(), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.Column("lost", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("oldest_undelivered", when, nullable=True),
        sa.Column("last_success_at", when, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", when, nullable=True),
        sa.Column("state_at", when, nullable=True),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "name"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("drains")
