"""Action items of meeting recaps (issue 13): one row per owner's task, followed up with that owner.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

A new table only; existing threads keep their kind ("nudge" or "commitment"), so an upgrade changes nothing a
user sees until a recap is tracked.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table("action_items",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("thread_id", sa.String(length=16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("owner_email", sa.String(length=320), nullable=True),
        sa.Column("owner_name", sa.Text(), nullable=False),
        sa.Column("task", sa.Text(), nullable=False),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("wait_until", sa.DateTime(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=320), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("probable", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["thread_id"], ["threads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("thread_id", "number"),
    )
    op.create_index("ix_action_items_thread_id", "action_items", ["thread_id"], unique=False)
    op.create_index("ix_action_items_owner_email", "action_items", ["owner_email"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_action_items_owner_email", table_name="action_items")
    op.drop_index("ix_action_items_thread_id", table_name="action_items")
    op.drop_table("action_items")
