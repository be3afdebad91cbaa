"""Account-level thresholds: `threshold_events` keeps each event a threshold signal counted (once per
signal and event), and `threshold_accounts` is the row counting locks per signal and account."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "threshold_events",
        sa.Column("signal", sa.String(100), primary_key=True),
        sa.Column("event_uuid", sa.String(200), primary_key=True),
        sa.Column("account", sa.String(300), nullable=False),
        sa.Column("event_time", sa.Float, nullable=False),
        sa.Column("distinct_id", sa.String(400), nullable=True),
        sa.Column("value", sa.Float, nullable=False),
    )
    op.create_index("ix_threshold_events_window", "threshold_events", ["signal", "account", "event_time"])
    op.create_table(
        "threshold_accounts",
        sa.Column("signal", sa.String(100), primary_key=True),
        sa.Column("account", sa.String(300), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("threshold_accounts")
    op.drop_index("ix_threshold_events_window", table_name="threshold_events")
    op.drop_table("threshold_events")
