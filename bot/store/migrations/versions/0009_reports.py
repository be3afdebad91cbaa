"""Scheduled reports: `report_schedule` holds, per report channel, when the schedule started (the
first `serve` that saw `reports`), so every process computes the same report times from it and the
first report goes out one `every` after the first start, however often processes restart."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_schedule",
        sa.Column("channel", sa.String(100), primary_key=True),
        sa.Column("started_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("report_schedule")
