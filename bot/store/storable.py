"""Any text the bot stores fits both databases.

PostgreSQL's `text` cannot hold U+0000 and neither driver can encode a lone surrogate (which
`json.loads` lets through, e.g. in a Slack payload). Left alone, one such string fails its whole
transaction, and with group commit everyone else's in it. So every string column binds through
`storable()`, which shows those characters as U+FFFD; identifiers are kept free of them at the
door (see bot/ingest/webhook_body.py), so a replacement never changes what a key means.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with NUL and lone surrogates replaced; the same object when there are none."""
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = _SURROGATE.sub(REPLACEMENT, text)
    return text


class StorableString(TypeDecorator[str]):
    """`String(n)` whose bound values pass through `storable()` and are cut to `n` characters:
    PostgreSQL refuses a longer value where SQLite keeps it, so both keep the same prefix."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if not isinstance(value, str):
            return value
        length = getattr(self.impl_instance, "length", None)
        if length is not None and len(value) > length:
            value = value[:length]
        return storable(value)


class StorableText(StorableString):
    """`Text` whose bound values pass through `storable()`."""

    impl = Text
    cache_ok = True
