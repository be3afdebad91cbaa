"""The store's tests share one database per module (see `module_store`), emptied after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.store import Store, metadata


@pytest.fixture
def store(module_store: Store) -> Iterator[Store]:
    yield module_store
    with module_store.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
