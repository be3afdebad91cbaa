"""`signal_hours`: ledger entries counted per signal and UTC hour of their decision, so `stats` sums a
period's hours instead of reading every entry of it (a month of a busy project is millions).

The counts start from the entries already in the ledger, counted here the way `stats` counted them
(an entry counts once for each signal its decisions name), so an upgraded database reports the same
figures as before. Both databases count in SQL, over their JSON functions.

`ix_ledger_outcome` (outcome) becomes `ix_ledger_outcome_account` (outcome, account, decided_at): the
outcome counts read it as before, and how many of an account's events a snooze held back (which
`why` and the worker ask once the snooze is over) is a range of it instead of every entry the
account or the outcome has.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# An entry's distinct signal names (cut to the column's length) with the hour it was decided in. Only
# entries some signal decided about hold `"signal"`; the ledger's JSON is always an array of objects.
BACKFILL = {
    "sqlite": """
INSERT INTO signal_hours (hour, signal, events)
SELECT hour, signal, count(*) FROM (
    SELECT DISTINCT ledger.event_uuid AS event_uuid,
        CAST(ledger.decided_at / 3600 AS INTEGER) * 3600 AS hour,
        substr(json_extract(decision.value, '$.signal'), 1, 100) AS signal
    FROM ledger, json_each(ledger.signals) AS decision
    WHERE instr(ledger.signals, '"signal"') > 0
        AND decision.type = 'object'
        AND json_type(decision.value, '$.signal') = 'text'
) AS named
GROUP BY hour, signal
""",
    "postgresql": """
INSERT INTO signal_hours (hour, signal, events)
SELECT hour, signal, count(*) FROM (
    SELECT DISTINCT ledger.event_uuid AS event_uuid,
        CAST(floor(ledger.decided_at / 3600) AS BIGINT) * 3600 AS hour,
        left(decision.value ->> 'signal', 100) AS signal
    FROM ledger, json_array_elements(CAST(ledger.signals AS json)) AS decision
    WHERE strpos(ledger.signals, '"signal"') > 0
        AND json_typeof(decision.value) = 'object'
        AND json_typeof(decision.value -> 'signal') = 'string'
) AS named
GROUP BY hour, signal
""",
}


def upgrade() -> None:
    op.create_table(
        "signal_hours",
        sa.Column("hour", sa.BigInteger, primary_key=True),
        sa.Column("signal", sa.String(100), primary_key=True),
        sa.Column("events", sa.BigInteger, nullable=False),
    )
    op.execute(BACKFILL[op.get_context().dialect.name])
    op.create_index("ix_ledger_outcome_account", "ledger", ["outcome", "account", "decided_at"])
    op.drop_index("ix_ledger_outcome", table_name="ledger")


def downgrade() -> None:
    op.create_index("ix_ledger_outcome", "ledger", ["outcome"])
    op.drop_index("ix_ledger_outcome_account", table_name="ledger")
    op.drop_table("signal_hours")
