"""The ledger read two more ways without reading all of it: `ix_ledger_distinct_id`, a person's
entries newest first (`/posthog why <distinct_id>`), and `ix_ledger_decided`, a period's entries
(`stats`)."""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ledger_distinct_id", "ledger", ["distinct_id", "event_time"])
    op.create_index("ix_ledger_decided", "ledger", ["decided_at"])


def downgrade() -> None:
    op.drop_index("ix_ledger_decided", table_name="ledger")
    op.drop_index("ix_ledger_distinct_id", table_name="ledger")
