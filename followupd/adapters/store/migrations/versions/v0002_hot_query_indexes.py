"""Indexes for the queries every cycle runs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

- threads (state, next_due): "waiting threads due by now, soonest first" (the drafter) and "the next wake-up"
  (the daemon) read one index range in order; the old single-column ``ix_threads_state`` is its prefix, dropped.
- touches (thread_id, state): the follow-ups of the open threads (matching replies to our drafts, outbox work).
- touches (message_id): a message seen in Sent is looked up by Message-ID to recognise the user sending our
  draft; without it every Sent message scanned every touch ever made.
- touches (created): "templates these people saw lately" and the per-person spacing read the newest touches only.

Plain CREATE/DROP INDEX runs as is on SQLite and PostgreSQL; batch mode would rebuild the tables on SQLite for
nothing (Alembic's SQLite batch copies the table for anything but ADD COLUMN).
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_threads_state_next_due", "threads", ["state", "next_due"])
    op.drop_index("ix_threads_state", table_name="threads")
    op.create_index("ix_touches_thread_id_state", "touches", ["thread_id", "state"])
    op.create_index("ix_touches_message_id", "touches", ["message_id"])
    op.create_index("ix_touches_created", "touches", ["created"])


def downgrade() -> None:
    op.drop_index("ix_touches_created", table_name="touches")
    op.drop_index("ix_touches_message_id", table_name="touches")
    op.drop_index("ix_touches_thread_id_state", table_name="touches")
    op.create_index("ix_threads_state", "threads", ["state"])
    op.drop_index("ix_threads_state_next_due", table_name="threads")
