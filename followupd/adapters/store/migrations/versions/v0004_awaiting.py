"""Awaiting a reply without the BCC, and the replies you owe (issue 14).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

- threads.source was a JSON list of where a tracked message was seen ("Sent:42"). Issue 14 names ``source`` the
  way a thread started ("bcc", "auto", "manual"), as ``status --json`` shows it, so the old column is renamed
  ``seen_in`` and ``source`` is a new string column, "bcc" for every existing thread (all of them were BCC'd).
  RENAME COLUMN is plain SQL on PostgreSQL and on SQLite (3.25+), so no batch copy of the table.
- threads.evidence: the sentence that asks, for auto/manual threads (NULL for bcc).
- New tables ``suggestions`` and ``owed``. ``suggestions.origin`` keeps the message's header block (and provider
  conversation ids), so `followupd track` starts the thread exactly as the BCC would have, without the mailbox.

An upgrade changes nothing a user sees: ``[tracking] auto`` and ``[owed] enabled`` are off by default.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE threads RENAME COLUMN source TO seen_in")
    op.add_column("threads", sa.Column("source", sa.String(length=16), server_default="bcc", nullable=False))
    op.add_column("threads", sa.Column("evidence", sa.Text(), nullable=True))
    op.create_table("suggestions",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=320), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("folder", sa.String(length=512), nullable=False),
        sa.Column("uid", sa.Integer(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("thread_id", sa.String(length=16), nullable=True),
        sa.Column("origin", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account", "message_id"),
    )
    op.create_index("ix_suggestions_state_sent_at", "suggestions", ["state", "sent_at"], unique=False)
    op.create_table("owed",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=320), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("thread_refs", sa.JSON(), nullable=False),
        sa.Column("from_addr", sa.String(length=320), nullable=False),
        sa.Column("from_name", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("folder", sa.String(length=512), nullable=False),
        sa.Column("uid", sa.Integer(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account", "message_id"),
    )
    op.create_index("ix_owed_state_received_at", "owed", ["state", "received_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_owed_state_received_at", table_name="owed")
    op.drop_table("owed")
    op.drop_index("ix_suggestions_state_sent_at", table_name="suggestions")
    op.drop_table("suggestions")
    # Plain DROP COLUMN (PostgreSQL; SQLite 3.35+), never the batch copy: on SQLite that copies `threads` and
    # drops the original, and with foreign keys on (the Store turns them on) ON DELETE CASCADE would empty
    # touches, events, message ids and action items with it.
    op.execute("ALTER TABLE threads DROP COLUMN evidence")
    op.execute("ALTER TABLE threads DROP COLUMN source")
    op.execute("ALTER TABLE threads RENAME COLUMN seen_in TO source")
