"""The store's schema history, one Alembic migration a change (versions/), run by bot/store/migrate.py."""
