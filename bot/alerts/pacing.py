"""How fast one Slack channel may be posted to: about one message per second, as Slack asks of
`chat.postMessage`, with a short burst allowed after a quiet spell (Slack tolerates short bursts), so
two alerts that arrive together do not wait a whole second; after a 429 the channel rests as long as
Slack said. A token bucket, pure: the caller says what time it is."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Pace:
    interval_s: float  # one message per interval, on average
    burst: int = 3  # messages that may go at once after a quiet spell
    _tokens: float = field(default=-1.0, init=False)
    _at: float = field(default=0.0, init=False)
    _rest_until: float = field(default=0.0, init=False)

    def _refill(self, now: float) -> None:
        if self._tokens < 0:  # never used: a full bucket
            self._tokens, self._at = float(self.burst), now
            return
        if self.interval_s > 0 and now > self._at:
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) / self.interval_s)
        self._at = max(self._at, now)

    def wait(self, now: float) -> float:
        """Seconds until the next message may go (0 when it may go now)."""
        if self.interval_s <= 0:
            return max(0.0, self._rest_until - now)
        self._refill(now)
        missing = max(0.0, 1.0 - self._tokens) * self.interval_s
        return max(missing, self._rest_until - now, 0.0)

    def sent(self, now: float, rest_s: float = 0.0) -> None:
        """A message went (or Slack refused one with 429 and `rest_s` to wait)."""
        self._refill(now)
        self._tokens = max(0.0, self._tokens - 1.0)
        if rest_s > 0:  # one message when the rest is over, then the pace again: no burst after a 429
            self._rest_until = max(self._rest_until, now + rest_s)
            self._tokens, self._at = 1.0, self._rest_until
