"""`ix_ledger_distinct_id`: a person's ledger entries, newest first (`/posthog why <distinct_id>`),
without reading the whole ledger."""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ledger_distinct_id", "ledger", ["distinct_id", "event_time"])


def downgrade() -> None:
    op.drop_index("ix_ledger_distinct_id", table_name="ledger")
