"""Making untrusted text safe for Slack: mrkdwn escaping, invisible characters, line breaks, length
limits, and link URLs.

Slack treats only `&`, `<` and `>` as control characters; escaping them neutralises `<!channel>`,
`<@U…>`, `<#C…>` and `<https://evil|PostHog>` alike. Text can also pretend without them: a
right-to-left override shows `moc.live` for `evil.com`, a zero-width space makes two names look
alike, a line break in a name starts what looks like another line of the alert. So control,
bidirectional and zero-width characters are removed from all text, and single-line places (headers,
field values, names, context lines, fallbacks) get every line break as a space. Truncation is done
on the raw text before escaping, so an entity like `&amp;` is never cut in half.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

ELLIPSIS = "…"
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# C0 and C1 controls other than line breaks; bidirectional embeddings, overrides, isolates and
# marks (U+202A-202E, U+2066-2069, U+200E, U+200F, U+061C); zero-width characters (U+200B-200D,
# U+2060, U+FEFF).
_HIDDEN = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]"
)
_NEWLINE = re.compile("\r\n|[\n\x0b\x0c\r\x85\u2028\u2029]")
_LINE_BREAKS = re.compile("[\t\n\x0b\x0c\r\x85\u2028\u2029]+")


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clean(text: str) -> str:
    """Multi-line text: controls, bidirectional and zero-width characters dropped; every kind of line
    break made a newline (tabs stay)."""
    return _NEWLINE.sub("\n", _HIDDEN.sub("", text))


def one_line(text: str) -> str:
    """Single-line text: cleaned, and each run of line breaks and tabs made one space."""
    return _LINE_BREAKS.sub(" ", _HIDDEN.sub("", text))


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, ending in an ellipsis when shortened."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + ELLIPSIS


def whole_lines(head: str | None, lines: Sequence[str], limit: int, cap: int | None = None) -> str:
    """`head` and as many whole lines as fit in `limit` characters (at most `cap`), then "and N more"
    for the rest: no line (nor an escape in it) is ever cut in half."""

    def text(shown: int) -> str:
        body = ([head] if head is not None else []) + list(lines[:shown])
        if len(lines) > shown:
            body.append(f"_and {len(lines) - shown} more_")
        return "\n".join(body)

    shown = len(lines) if cap is None else min(cap, len(lines))
    while shown > 0 and len(text(shown)) > limit:
        shown -= 1
    return text(shown)


def escape_clip(text: str, limit: int) -> str:
    """Escaped text that fits `limit` characters after escaping."""
    text = clean(text)
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    out: list[str] = []
    used = 0
    budget = limit - 1  # room for the ellipsis
    for char in text:
        piece = _ESCAPES.get(char, char)
        if used + len(piece) > budget:
            break
        out.append(piece)
        used += len(piece)
    return "".join(out).rstrip() + ELLIPSIS


def escape_line(text: str, limit: int) -> str:
    """Escaped single-line text (a field value, a name, a context line) within `limit`."""
    return escape_clip(one_line(text), limit)


def inline_code(text: str, limit: int) -> str:
    """Text as inline code (an event name); a backtick in it would end the code span, so it is shown
    as `'`."""
    return "`" + escape_line(text.replace("`", "'"), limit) + "`"


def plain(text: str, limit: int) -> str:
    """Single-line text for plain_text objects: Slack does not parse it, so only cleaning and
    clipping apply."""
    return clip(one_line(text).strip(), limit) or "-"


def safe_url(url: object, limit: int = 3000) -> str | None:
    """An http(s) URL that cannot break out of `<url|label>`: None when unusable."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    url = quote(url, safe=":/?#[]@!$&'()*+,;=%~")  # encodes <, >, |, quotes, spaces and non-ASCII
    return url if len(url) <= limit else None


def link(url: str | None, label: str) -> str:
    """A mrkdwn link, or just the escaped label when there is no safe URL."""
    safe = safe_url(url)
    label = escape(clean(label))
    if safe is None:
        return label
    return f"<{escape(safe)}|{label}>"
