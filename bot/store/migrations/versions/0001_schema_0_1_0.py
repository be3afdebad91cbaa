"""The schema of posthog-slack-signals 0.1.0, exactly: every later change is a migration on top.

A database 0.1.0 created has these tables and no version; bot/store/migrate.py records it as this
revision before upgrading it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("uuid", sa.String(200), primary_key=True),
        sa.Column("event_name", sa.String(400), nullable=False),
        sa.Column("payload", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index("ix_inbox_claim", "inbox", ["status", "next_attempt_at"])
    op.create_table(
        "ledger",
        sa.Column("event_uuid", sa.String(200), primary_key=True),
        sa.Column("event_name", sa.String(400), nullable=False),
        sa.Column("distinct_id", sa.String(400), nullable=True),
        sa.Column("account", sa.String(300), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("signals", sa.Text, nullable=False),
        sa.Column("event_time", sa.Float, nullable=True),
        sa.Column("decided_at", sa.Float, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_ledger_account", "ledger", ["account", "event_time"])
    op.create_index("ix_ledger_outcome", "ledger", ["outcome"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("event_uuid", sa.String(200), nullable=False),
        sa.Column("signal", sa.String(100), nullable=False),
        sa.Column("account", sa.String(300), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("owner", sa.String(32), nullable=True),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ts", sa.String(32), nullable=True),
        sa.Column("posted_channel", sa.String(100), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=True),
        sa.Column("sending_since", sa.Float, nullable=True),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("posted_at", sa.Float, nullable=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.UniqueConstraint("event_uuid", "signal", name="uq_alerts_event_signal"),
    )
    op.create_index("ix_alerts_due", "alerts", ["status", "next_attempt_at"])
    op.create_table(
        "cooldowns",
        sa.Column("signal", sa.String(100), primary_key=True),
        sa.Column("account", sa.String(300), primary_key=True),
        sa.Column("last_alert_at", sa.Float, nullable=False),
    )
    op.create_table(
        "snoozes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account", sa.String(300), nullable=False),
        sa.Column("until", sa.Float, nullable=False),
        sa.Column("snoozed_by", sa.String(32), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("alert_id", sa.String(32), nullable=True),
        sa.Column("reported", sa.Integer, nullable=False),
    )
    op.create_index("ix_snoozes_account", "snoozes", ["account", "until"])
    op.create_table(
        "tasks",
        sa.Column("alert_id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("uncertain", sa.Integer, nullable=False),
        sa.Column("attempt_at", sa.Float, nullable=False),
        sa.Column("requested_by", sa.String(32), nullable=False),
        sa.Column("crm", sa.String(16), nullable=False),
        sa.Column("crm_id", sa.String(64), nullable=True),
        sa.Column("url", sa.String(3000), nullable=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("due_at", sa.Float, nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("created_at", sa.Float, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_table(
        "feedback",
        sa.Column("alert_id", sa.String(32), primary_key=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "enrichment_cache",
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("value", sa.Text, nullable=True),
        sa.Column("fetched_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "workers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("heartbeat_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
    )
    op.create_table(
        "llm_usage",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("tokens", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "llm_usage",
        "workers",
        "enrichment_cache",
        "feedback",
        "tasks",
        "snoozes",
        "cooldowns",
        "alerts",
        "ledger",
        "inbox",
    ):
        op.drop_table(table)
