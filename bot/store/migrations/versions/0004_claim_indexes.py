"""Indexes for the worker's two reads per event that grew with the database: claiming takes the oldest
due events in the order they arrived (`ix_inbox_due` replaces `ix_inbox_claim`, which made every claim
sort all pending events), and an account's cooldowns are looked up by account (`ix_cooldowns_account`;
the primary key starts with the signal, so that lookup read every cooldown).
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_inbox_due", "inbox", ["status", "received_at"])
    op.drop_index("ix_inbox_claim", table_name="inbox")
    op.create_index("ix_cooldowns_account", "cooldowns", ["account"])


def downgrade() -> None:
    op.drop_index("ix_cooldowns_account", table_name="cooldowns")
    op.create_index("ix_inbox_claim", "inbox", ["status", "next_attempt_at"])
    op.drop_index("ix_inbox_due", table_name="inbox")
