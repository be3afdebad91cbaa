"""Enrichment write-back to PostHog with the official SDK: `$set` on the person and `$groupidentify`
on the `company` group, so cohorts and insights can use what the bot learned.

The SDK queues and sends from its own thread, so nothing here waits on the network. Identical
write-backs are remembered and not repeated.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from bot import LIB_NAME, __version__
from bot.ops.metrics import Metrics

if TYPE_CHECKING:
    from posthog import Posthog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WriteBack:
    distinct_id: str | None
    person: dict[str, Any] = field(default_factory=dict)
    group_key: str | None = None
    group: dict[str, Any] = field(default_factory=dict)


def stamp_library(message: dict[str, Any]) -> dict[str, Any]:
    """Everything this client sends is the bot's own doing: say so in `$lib`, so the team can tell
    the bot's events from their product's."""
    properties = message.setdefault("properties", {})
    properties["$lib"] = LIB_NAME
    properties["$lib_version"] = __version__
    return message


class PostHogWriter:
    def __init__(self, client: Posthog | None, metrics: Metrics, remember: int = 10_000):
        self.client = client
        self.metrics = metrics
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._remember = remember

    @classmethod
    def create(cls, api_key: str | None, host: str, metrics: Metrics, **options: Any) -> PostHogWriter:
        if not api_key:
            log.info("POSTHOG_PROJECT_API_KEY is not set: enrichment is not written back to PostHog")
            return cls(None, metrics)
        # Imported here: the SDK takes a quarter of a second, which a worker spends only if it writes.
        from posthog import Posthog

        client = Posthog(api_key, host=host, before_send=stamp_library, **options)
        return cls(client, metrics)

    def _first_time(self, *parts: Any) -> bool:
        digest = hashlib.blake2b(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()
        if digest in self._seen:
            self._seen.move_to_end(digest)
            return False
        self._seen[digest] = None
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        return True

    def write(self, writeback: WriteBack) -> None:
        if self.client is None:
            return
        if (
            writeback.distinct_id
            and writeback.person
            and self._first_time("person", writeback.distinct_id, writeback.person)
        ):
            self.client.set(distinct_id=writeback.distinct_id, properties=writeback.person)
            self.metrics.writebacks.labels(kind="person").inc()
        if (
            writeback.group_key
            and writeback.group
            and self._first_time("group", writeback.group_key, writeback.group)
        ):
            self.client.group_identify(
                "company", writeback.group_key, properties=writeback.group, distinct_id=writeback.distinct_id
            )
            self.metrics.writebacks.labels(kind="group").inc()

    def capture(
        self, event: str, distinct_id: str, properties: dict[str, Any], groups: dict[str, str] | None = None
    ) -> None:
        """An event of the bot's own, such as feedback on an alert."""
        if self.client is None:
            return
        self.client.capture(event, distinct_id=distinct_id, properties=properties, groups=groups)

    def flush(self) -> None:
        if self.client is not None:
            self.client.flush()

    def shutdown(self) -> None:
        if self.client is not None:
            self.client.shutdown()
