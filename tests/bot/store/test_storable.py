"""Text no database column takes as it is (NUL, a lone surrogate, more than the column holds) is
stored anyway, the same way on SQLite and PostgreSQL, instead of failing its transaction."""

from __future__ import annotations

from bot.store.storable import storable
from tests.support import stored


def test_nul_and_lone_surrogates_are_shown_as_the_replacement_character():
    assert storable("a\x00b") == "a\ufffdb"
    assert storable("x\ud800y\udfff") == "x\ufffdy\ufffd"
    assert storable("Zürich\x00") == "Zürich\ufffd"


def test_text_that_needs_nothing_is_the_same_object():
    for text in ("plain ascii", "Zürich 🚀", ""):
        assert storable(text) is text


def test_the_store_keeps_such_text_and_cuts_a_value_to_its_column_on_both_databases(store):
    store.record_feedback("a" * 32, "r" * 40, "bad\x00 \ud83d text", "U0AE")  # reason is String(32)
    kept = stored.feedback_on(store, "a" * 32)
    assert kept["reason"] == "r" * 32
    assert kept["text"] == "bad\ufffd \ufffd text"
