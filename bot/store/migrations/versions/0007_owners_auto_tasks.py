"""Owners and automatic tasks.

- `alerts.auto_task`: 1 when the alert's CRM task is to be created as soon as it is posted, so a
  process that died between the post and the task leaves work the next one finds.
- `ix_alerts_owner`: an owner's alerts of the last days (the Home tab).
- `ix_alerts_auto_task`: posted alerts still owed their automatic task.
- `ix_alerts_created`: the week's alerts (the Home tab's counts per signal).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("auto_task", sa.Integer, nullable=False, server_default="0"))
    op.create_index("ix_alerts_owner", "alerts", ["owner", "created_at"])
    op.create_index("ix_alerts_auto_task", "alerts", ["auto_task", "status"])
    op.create_index("ix_alerts_created", "alerts", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_alerts_created", table_name="alerts")
    op.drop_index("ix_alerts_auto_task", table_name="alerts")
    op.drop_index("ix_alerts_owner", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("auto_task")
