"""image center: sources, builds and their logs, images, promotion policies and approvals

Also `env_status.available_since`: when the current revision of an environment became
available (the controller writes it), which the promotion gates' soak time is measured from.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 19:50:00

"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, *, nullable: bool = False) -> "sa.Column[Any]":
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _service() -> "list[Any]":
    return [
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"], ondelete="CASCADE"),
    ]


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "service_sources",
        *_service(),
        sa.Column("repo_url", sa.String(length=1024), nullable=False),
        sa.Column("branch", sa.String(length=255), nullable=False),
        sa.Column("dockerfile", sa.String(length=255), nullable=False),
        sa.Column("context", sa.String(length=255), nullable=False),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("service_id"),
    )
    op.create_table(
        "promotion_policies",
        *_service(),
        sa.Column("soak_s", sa.Double(), nullable=False),
        sa.Column("online_approval", sa.Boolean(), nullable=False),
        sa.Column("stable_follows", sa.String(length=10), nullable=True),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("service_id"),
    )
    op.create_table(
        "env_overrides",
        *_service(),
        sa.Column("env", sa.String(length=10), nullable=False),
        sa.Column("replicas", sa.Integer(), nullable=True),
        sa.Column("env_vars", sa.JSON(), nullable=False),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("service_id", "env"),
    )
    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), nullable=False),
        *_service(),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("digest", sa.String(length=71), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("commit", sa.String(length=40), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        _when("committed_at", nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("build_number", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Double(), nullable=False),
        _when("created_at"),
        _when("deleted_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service_id", "digest"),
    )
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.create_index("ix_images_service_commit", ["service_id", "commit"], unique=False)
    op.create_table(
        "builds",
        sa.Column("id", sa.Integer(), nullable=False),
        *_service(),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=255), nullable=False),
        sa.Column("force", sa.Boolean(), nullable=False),
        sa.Column("deploy_to", sa.String(length=10), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("commit", sa.String(length=40), nullable=True),
        sa.Column("image_id", sa.Integer(), nullable=True),
        sa.Column("requested_by", sa.String(length=120), nullable=False),
        _when("requested_at"),
        _when("started_at", nullable=True),
        _when("finished_at", nullable=True),
        _when("heartbeat_at", nullable=True),
        sa.Column("worker", sa.String(length=120), nullable=True),
        sa.Column("log_size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service_id", "number"),
    )
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.create_index("ix_builds_state", ["state"], unique=False)
    op.create_table(
        "build_logs",
        sa.Column("build_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["build_id"], ["builds.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("build_id", "seq"),
    )
    op.create_table(
        "promotion_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        *_service(),
        sa.Column("env", sa.String(length=10), nullable=False),
        sa.Column("digest", sa.String(length=71), nullable=False),
        sa.Column("approved_by", sa.String(length=120), nullable=False),
        _when("approved_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service_id", "env", "digest", "approved_by"),
    )
    with op.batch_alter_table("env_status", schema=None) as batch_op:
        batch_op.add_column(_when("available_since", nullable=True))


def downgrade() -> None:
    """Downgrade schema (every build, image record and policy is dropped)."""
    with op.batch_alter_table("env_status", schema=None) as batch_op:
        batch_op.drop_column("available_since")
    op.drop_table("promotion_approvals")
    op.drop_table("build_logs")
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.drop_index("ix_builds_state")
    op.drop_table("builds")
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_index("ix_images_service_commit")
    op.drop_table("images")
    op.drop_table("env_overrides")
    op.drop_table("promotion_policies")
    op.drop_table("service_sources")
