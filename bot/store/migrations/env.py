"""Alembic's environment: migrations run on the connection bot/store/migrate.py hands over (online), or
print their SQL for a given dialect (offline, `python -m bot migrate --sql`)."""

from __future__ import annotations

from alembic import context

from bot.store.tables import metadata

config = context.config

if context.is_offline_mode():
    context.configure(
        dialect_name=config.attributes["dialect"],
        target_metadata=metadata,
        literal_binds=True,
        starting_rev=config.attributes.get("starting_rev"),
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
