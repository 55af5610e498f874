"""alarms

`alarm_rules` (a team's rules per service), `alarms` (each firing as Alertmanager reported it:
fired, resolved, acknowledged, silenced) and `alarm_receivers` (where a team's alarms go, with
how delivery last went).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 00:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    when = sa.DateTime(timezone=True)
    op.create_table(
        "alarm_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("env", sa.String(length=10), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service_id", "name"),
    )
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("starts_at", when, nullable=False),
        sa.Column("alertname", sa.String(length=200), nullable=False),
        sa.Column("team", sa.String(length=40), nullable=True),
        sa.Column("service", sa.String(length=40), nullable=True),
        sa.Column("env", sa.String(length=10), nullable=True),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("ends_at", when, nullable=True),
        sa.Column("received_at", when, nullable=False),
        sa.Column("acked_by", sa.String(length=120), nullable=True),
        sa.Column("acked_at", when, nullable=True),
        sa.Column("silence_id", sa.String(length=64), nullable=True),
        sa.Column("silenced_until", when, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint", "starts_at"),
    )
    op.create_index("ix_alarms_team_state", "alarms", ["team", "state", "id"])
    op.create_table(
        "alarm_receivers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("target", sa.String(length=1024), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", when, nullable=True),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "name"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("alarm_receivers")
    op.drop_index("ix_alarms_team_state", table_name="alarms")
    op.drop_table("alarms")
    op.drop_table("alarm_rules")
