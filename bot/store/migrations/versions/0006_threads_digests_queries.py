"""Threads, digests and scheduled queries.

- `alerts.thread_of`: the alert whose thread this one replies in, chosen when the alert is created
  (before anything is sent), so a retry or another process posts it in the same thread.
- `alerts.digest_id`: the digest message a `deliver: digest` alert went out in.
- `threads`: the account's current thread per channel, taken atomically by whichever alert comes first.
- `query_runs`: one row per query signal, the lease that lets one process run each interval.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("thread_of", sa.String(32), nullable=True))
    op.add_column("alerts", sa.Column("digest_id", sa.String(32), nullable=True))
    op.create_index("ix_alerts_thread_of", "alerts", ["thread_of"])
    op.create_table(
        "threads",
        sa.Column("account", sa.String(300), primary_key=True),
        sa.Column("channel", sa.String(100), primary_key=True),
        sa.Column("root_alert_id", sa.String(32), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
    )
    op.create_table(
        "query_runs",
        sa.Column("signal", sa.String(100), primary_key=True),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("result", sa.String(16), nullable=True),
        sa.Column("rows", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("query_runs")
    op.drop_table("threads")
    op.drop_index("ix_alerts_thread_of", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("digest_id")
        batch.drop_column("thread_of")
