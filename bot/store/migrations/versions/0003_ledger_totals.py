"""Events no signal listens to are counted, not stored one by one: `ledger_totals` holds how many of each
event name arrived in each minute, by outcome.

Until now each such event had an inbox row and a ledger entry (outcome `filtered`); those already
stored stay where they are and are still counted, so `/metrics` goes on from where it was.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_totals",
        sa.Column("minute", sa.BigInteger, primary_key=True),
        sa.Column("event_name", sa.String(400), primary_key=True),
        sa.Column("outcome", sa.String(32), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger_totals")
