"""`/posthog …` text to a typed command, or a CommandError that says what is wrong.

Quotes group words ("sign up"), Slack's curly quotes count as quotes, `>` separates funnel steps with
or without spaces around it, and `--share` may stand anywhere. Everything typed is untrusted: the
parser only splits and checks; callers escape what they echo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from bot.commands.date_ranges import DEFAULT_RANGE, DateRange

FLAGS = {"--share"}
MAX_STEPS = 20
_QUOTES = {"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"}
_SHORT_ID = re.compile(r"^[A-Za-z0-9]{6,12}$")
_INSIGHT_URL = re.compile(r"^https?://[^/\s]+/(?:project/\d+/)?insights/([A-Za-z0-9]{6,12})(?:[/?#].*)?$")
_KEY = re.compile(r"^[^\s=]{1,200}$")
_SLACK_LINK = re.compile(r"<(https?://[^>|\s]+)(?:\|[^>]*)?>")
_SLACK_MAILTO = re.compile(r"<mailto:([^>|\s]+)(?:\|[^>]*)?>")  # Slack links an email typed in text


class CommandError(ValueError):
    """Bad input; the message says what to change."""


@dataclass(frozen=True)
class Command:
    share: bool = False


@dataclass(frozen=True)
class Help(Command):
    topic: str | None = None


@dataclass(frozen=True)
class ListSnoozes(Command):
    pass


@dataclass(frozen=True)
class Funnel(Command):
    steps: tuple[str, ...] = ()
    date_range: DateRange = DEFAULT_RANGE
    breakdown: str | None = None

    @property
    def date_from(self) -> str:
        return DateRange(self.date_range).date_from

    @property
    def range_label(self) -> str:
        return DateRange(self.date_range).label


@dataclass(frozen=True)
class SavedFunnel(Command):
    short_id: str = ""


@dataclass(frozen=True)
class SendTestEvent(Command):
    event: str = ""
    distinct_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Identify(Command):
    distinct_id: str = ""
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Alias(Command):
    distinct_id: str = ""
    alias: str = ""


@dataclass(frozen=True)
class Why(Command):
    """`why <domain | email | distinct_id>`: the account's story from the ledger."""

    target: str = ""


@dataclass(frozen=True)
class Stats(Command):
    """`stats [7d|30d]`: each signal's alerts and what people did with them."""

    days: int = 7


@dataclass(frozen=True)
class Lint(Command):
    """`lint`: the tracking plan's health, PostHog's event definitions against the signals file."""


ARROW = object()  # a `>` outside quotes


def tokenize(text: str) -> list[Any]:
    """Words (quoted or not) and ARROW markers."""
    for fancy, plain in _QUOTES.items():
        text = text.replace(fancy, plain)
    text = _SLACK_LINK.sub(r"\1", text)  # <https://…> or <https://…|label>, as Slack may send links
    text = _SLACK_MAILTO.sub(r"\1", text)
    text = text.replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")  # Slack escapes these
    tokens: list[Any] = []
    word: list[str] = []
    quote: str | None = None
    quoted = False

    def finish() -> None:
        nonlocal quoted
        if word or quoted:
            tokens.append("".join(word))
        word.clear()
        quoted = False

    for char in text:
        if quote:
            if char == quote:
                quote = None
            else:
                word.append(char)
        elif char in "\"'":
            quote, quoted = char, True
        elif char.isspace():
            finish()
        elif char == ">":
            finish()
            tokens.append(ARROW)
        else:
            word.append(char)
    if quote:
        raise CommandError(f"a {quote} quote is not closed")
    finish()
    return tokens


def typed_value(raw: str) -> Any:
    """JSON where it parses as a number, boolean or null; the text otherwise."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw
    return value if isinstance(value, int | float | bool) or value is None else raw


def parse_pairs(words: list[str]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not _KEY.match(key):
            raise CommandError(f"`{word}` is not key=value")
        properties[key] = typed_value(value)
    return properties


def parse(text: str) -> Command:
    tokens = tokenize(text.strip())
    words = [t for t in tokens if t is not ARROW]
    flags = {w for w in words if isinstance(w, str) and w.startswith("--")}
    unknown = flags - FLAGS
    if unknown:
        raise CommandError(f"unknown flag {sorted(unknown)[0]} (the only flag is --share)")
    share = "--share" in flags
    tokens = [t for t in tokens if t not in FLAGS]
    if not tokens:
        return Help(share=share)
    head, rest = tokens[0], tokens[1:]
    if head is ARROW:
        raise CommandError("start with a command, such as `funnel`")
    name = head.lower()
    if name in ("help", "?"):
        topic = rest[0].lower() if rest and rest[0] is not ARROW else None
        return Help(share=share, topic=topic)
    if name == "snoozes":
        return ListSnoozes(share=share)
    if name == "funnel":
        return _funnel(rest, share)
    plain = [t for t in rest if t is not ARROW]
    if len(plain) != len(rest):
        raise CommandError(f"`>` only separates funnel steps, not `{name}` arguments")
    if name == "test":
        return _test(plain, share)
    if name == "identify":
        if len(plain) < 2:
            raise CommandError("identify needs a distinct_id and at least one key=value")
        return Identify(share=share, distinct_id=_id(plain[0]), properties=parse_pairs(plain[1:]))
    if name == "stats":
        if len(plain) > 1 or (plain and plain[0].lower() not in ("7d", "30d")):
            raise CommandError("stats takes `7d` (the default) or `30d`")
        return Stats(share=share, days=int(plain[0][:-1]) if plain else 7)
    if name == "lint":
        if plain:
            raise CommandError("lint takes no arguments (add --share to post the report in the channel)")
        return Lint(share=share)
    if name == "why":
        if len(plain) != 1:
            raise CommandError("why needs one domain, email or distinct_id: `/posthog why acme.com`")
        return Why(share=share, target=_id(plain[0]))
    if name == "alias":
        if len(plain) != 2:
            raise CommandError("alias needs exactly two ids: the distinct_id and its alias")
        first, second = _id(plain[0]), _id(plain[1])
        if first == second:
            raise CommandError("an id cannot be its own alias")
        return Alias(share=share, distinct_id=first, alias=second)
    raise CommandError(f"unknown command `{name[:40]}`")


def _id(value: str) -> str:
    if not value or "=" in value or len(value) > 400:
        raise CommandError(f"`{value[:60]}` is not a distinct_id")
    return value


def _test(words: list[str], share: bool) -> SendTestEvent:
    if not words or "=" in words[0]:
        raise CommandError("test needs an event name: `/posthog test signup_completed`")
    event, rest = words[0], words[1:]
    distinct_id = None
    if rest and "=" not in rest[0]:
        distinct_id, rest = _id(rest[0]), rest[1:]
    return SendTestEvent(
        share=share, event=event[:400], distinct_id=distinct_id, properties=parse_pairs(rest)
    )


def _funnel(tokens: list[Any], share: bool) -> Command:
    if not tokens:
        raise CommandError("funnel needs steps (`a > b`) or a saved insight's short id or URL")
    if ARROW not in tokens and len(tokens) == 1:
        match = _INSIGHT_URL.match(tokens[0])
        if match:
            return SavedFunnel(share=share, short_id=match.group(1))
        if _SHORT_ID.match(tokens[0]):
            return SavedFunnel(share=share, short_id=tokens[0])
        raise CommandError("a funnel needs at least two steps: `a > b`")
    steps: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token is ARROW:
            steps.append(_step(current, len(steps) + 1))
            current = []
        elif current and not any(t is ARROW for t in tokens[index:]):
            break  # what follows the last step: date range and breakdown
        else:
            current.append(token)
        index += 1
    steps.append(_step(current, len(steps) + 1))
    tail = [t for t in tokens[index:] if t is not ARROW]
    date_range, breakdown = _funnel_tail(tail)
    if len(steps) < 2:
        raise CommandError("a funnel needs at least two steps: `a > b`")
    if len(steps) > MAX_STEPS:
        raise CommandError(f"a funnel has at most {MAX_STEPS} steps")
    return Funnel(share=share, steps=tuple(steps), date_range=date_range, breakdown=breakdown)


def _step(words: list[str], number: int) -> str:
    if not words:
        raise CommandError(f"step {number} is empty (two `>` in a row, or one at an end)")
    if len(words) > 1:
        raise CommandError(f'step {number} has spaces: quote it, like "{" ".join(words)}"')
    return words[0][:400]


def _funnel_tail(words: list[str]) -> tuple[DateRange, str | None]:
    date_range, breakdown = DEFAULT_RANGE, None
    index = 0
    while index < len(words):
        word = words[index].lower()
        named = DateRange.named(word)
        if named is not None:
            date_range = named
            index += 1
        elif word == "by":
            if index + 1 >= len(words):
                raise CommandError("`by` needs a property name, like `by plan`")
            breakdown = words[index + 1][:200]
            index += 2
        else:
            ranges = ", ".join(DateRange)
            raise CommandError(
                f"`{words[index][:60]}` is neither a date range ({ranges}) nor `by <property>`"
            )
    return date_range, breakdown
