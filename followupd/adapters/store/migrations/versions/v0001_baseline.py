"""Baseline: the schema of release 0.1.0, exactly as its ``Base.metadata.create_all`` made it.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Databases made by 0.1.0 are stamped with this revision instead of running it. Names matter: the index names are
the ones SQLAlchemy generated (``ix_<table>_<column>``) and the unique constraints stay unnamed, so a stamped
0.1.0 database and a database created here are the same to every later revision, on SQLite and PostgreSQL alike.
Times are naive UTC ``DateTime`` (the models' ``UTCDateTime`` stores them so).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table("folder_cursors",
        sa.Column("folder", sa.String(length=512), nullable=False),
        sa.Column("uidvalidity", sa.Integer(), nullable=False),
        sa.Column("last_uid", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("folder")
    )
    op.create_table("followupd_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key")
    )
    op.create_table("requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("argument", sa.Text(), nullable=False),
        sa.Column("flag", sa.Boolean(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_table("threads",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("from_email", sa.String(length=320), nullable=False),
        sa.Column("from_name", sa.Text(), nullable=False),
        sa.Column("to", sa.JSON(), nullable=False),
        sa.Column("cc", sa.JSON(), nullable=False),
        sa.Column("bcc", sa.JSON(), nullable=False),
        sa.Column("references", sa.JSON(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), server_default="nudge", nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=False),
        sa.Column("state_changed_at", sa.DateTime(), nullable=True),
        sa.Column("tracking_address", sa.String(length=320), nullable=False),
        sa.Column("tracking_suffix", sa.String(length=64), nullable=True),
        sa.Column("promised", sa.Date(), nullable=True),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("touches", sa.Integer(), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("last_touch_at", sa.DateTime(), nullable=True),
        sa.Column("next_due", sa.DateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("snoozed_until", sa.DateTime(), nullable=True),
        sa.Column("failed_recipients", sa.JSON(), nullable=False),
        sa.Column("conversation_keys", sa.JSON(), nullable=False),
        sa.Column("expect_all", sa.Boolean(), nullable=False),
        sa.Column("answered_by", sa.JSON(), nullable=False),
        sa.Column("replied_at", sa.DateTime(), nullable=True),
        sa.Column("replied_by", sa.String(length=320), nullable=False),
        sa.Column("reply_probable", sa.Boolean(), nullable=False),
        sa.Column("source", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id")
    )
    op.create_index("ix_threads_next_due", "threads", ["next_due"], unique=False)
    op.create_index("ix_threads_state", "threads", ["state"], unique=False)
    op.create_table("events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("thread_id", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("thread_id", "kind", "message_id"),
        sa.ForeignKeyConstraint(["thread_id"], ["threads.id"], ondelete="CASCADE")
    )
    op.create_index("ix_events_thread_id", "events", ["thread_id"], unique=False)
    op.create_table("reminders",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("thread_id", sa.String(length=16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("template", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("touch_id", sa.String(length=24), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("uid", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("thread_id", "number"),
        sa.ForeignKeyConstraint(["thread_id"], ["threads.id"], ondelete="CASCADE")
    )
    op.create_index("ix_reminders_state", "reminders", ["state"], unique=False)
    op.create_index("ix_reminders_thread_id", "reminders", ["thread_id"], unique=False)
    op.create_table("thread_message_ids",
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("thread_id", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["thread_id"], ["threads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id")
    )
    op.create_index("ix_thread_message_ids_thread_id", "thread_message_ids", ["thread_id"], unique=False)
    op.create_table("touches",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("thread_id", sa.String(length=16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("template", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("to", sa.JSON(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("drafted_at", sa.DateTime(), nullable=True),
        sa.Column("drafts_uid", sa.Integer(), nullable=True),
        sa.Column("drafts_uidvalidity", sa.Integer(), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("missing_since", sa.DateTime(), nullable=True),
        sa.Column("cleanup_pending", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("approved_at", sa.DateTime(), nullable=True),
        sa.Column("send_now", sa.Boolean(), nullable=False),
        sa.Column("draft_changed_at", sa.DateTime(), nullable=True),
        sa.Column("send_attempts", sa.Integer(), nullable=False),
        sa.Column("retry_after", sa.DateTime(), nullable=True),
        sa.Column("sending_started_at", sa.DateTime(), nullable=True),
        sa.Column("data_started_at", sa.DateTime(), nullable=True),
        sa.Column("sent_raw", sa.LargeBinary(), nullable=True),
        sa.Column("sent_by_followupd", sa.Boolean(), nullable=False),
        sa.Column("sent_copy_pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("thread_id", "number"),
        sa.ForeignKeyConstraint(["thread_id"], ["threads.id"], ondelete="CASCADE")
    )
    op.create_index("ix_touches_state", "touches", ["state"], unique=False)
    op.create_index("ix_touches_thread_id", "touches", ["thread_id"], unique=False)


def downgrade() -> None:
    op.drop_table("touches")
    op.drop_table("thread_message_ids")
    op.drop_table("reminders")
    op.drop_table("events")
    op.drop_table("threads")
    op.drop_table("requests")
    op.drop_table("followupd_meta")
    op.drop_table("folder_cursors")
